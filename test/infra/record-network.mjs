// Preloaded (NODE_OPTIONS=--import) into every Node process of a `cdk synth` run by the infra
// tests: records each connection or name lookup to a host other than loopback in the file named
// by FAULTLINE_NETWORK_LOG, and fails it at once, so a synth that reaches out is caught, not hung.

import dns from 'node:dns';
import { appendFileSync } from 'node:fs';
import net from 'node:net';

const logFile = process.env.FAULTLINE_NETWORK_LOG;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

const isLoopback = (host) =>
  host === undefined || LOOPBACK.has(String(host)) || String(host).startsWith('127.');

const record = (what) => {
  if (logFile !== undefined)
    appendFileSync(logFile, `${process.pid} ${process.argv.slice(1, 3).join(' ')}: ${what}\n`);
};

const optionsOf = (args) => {
  const [first, second] = args;
  if (Array.isArray(first)) return first[0] ?? {};
  if (typeof first === 'object' && first !== null) return first;
  if (typeof first === 'number' || /^\d+$/.test(String(first))) {
    return { port: Number(first), host: typeof second === 'string' ? second : 'localhost' };
  }
  return { path: first };
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connectRecorded(...args) {
  const options = optionsOf(args);
  if (options.path === undefined && !isLoopback(options.host)) {
    record(`connect ${options.host}:${options.port}`);
    process.nextTick(() => this.destroy(new Error(`network access denied: ${options.host}`)));
    return this;
  }
  return connect.apply(this, args);
};

const lookup = dns.lookup;
dns.lookup = function lookupRecorded(hostname, ...rest) {
  if (!isLoopback(hostname)) record(`lookup ${hostname}`);
  return lookup.call(this, hostname, ...rest);
};
const promisedLookup = dns.promises.lookup;
dns.promises.lookup = function lookupRecorded(hostname, ...rest) {
  if (!isLoopback(hostname)) record(`lookup ${hostname}`);
  return promisedLookup.call(this, hostname, ...rest);
};
