import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseWith } from '../events/index.ts';
import { isLogLevel } from '../functions/adapters/observability/log-entry.ts';
import { RuntimeConfig } from '../local/config.ts';
import { METRICS_PATH, OperatorTokenNotKnownError, startControlPlane } from '../local/control-plane.ts';
import { DataFolderInUseError } from '../local/data-folder-lock.ts';
import { DataFolderIncompleteError } from '../local/data-folder-start.ts';
import { terminalLog } from '../local/terminal-log.ts';
import type { Streams } from './streams.ts';

/**
 * `faultline up [--listen 127.0.0.1] [--port 8787] [--data .faultline] [--operator-token T]
 * [--tls-cert F --tls-key F] [--config faultline.json] [--log-level info|debug|warn]
 * [--metrics-listen ADDR:PORT]`: the whole control plane on one machine, until SIGINT or SIGTERM,
 * which drain what is in flight. At `info` the terminal shows one readable line per incident change
 * and per page (local/terminal-log.ts); at `debug` every log entry as a JSON line, each decision the
 * handlers make included; at `warn` only warnings and errors (on stderr, as JSON lines, at every
 * level). `GET /metrics` answers an operator token on the API's address, and anyone on
 * `--metrics-listen`. The banner says where pages go (local/pages.ts).
 *
 * The data folder (local/data-folder-start.ts): a start on a new (or empty, or absent) folder makes
 * a new plan-signing key and operator token, and says so loudly, in the banner and on stderr,
 * since agents configured with another key refuse every plan until given the new public key. A
 * folder holding the database without the key, or the key without the database, is refused (exit
 * 1, the reason and what to do on stderr), as is a folder another `faultline up` holds.
 */

export const UpEnvironment = z.object({ FAULTLINE_OPERATOR_TOKEN: z.string().min(16).optional() });
export type UpEnvironment = z.infer<typeof UpEnvironment>;

const USAGE =
  'usage: faultline up [--listen 127.0.0.1] [--port 8787] [--data .faultline] [--operator-token T] [--tls-cert F --tls-key F] [--config faultline.json] [--log-level info|debug|warn] [--metrics-listen ADDR:PORT]\n';

/** `ADDR:PORT` (an IPv6 address in brackets: `[::1]:9464`), or undefined when it is not one. */
export const parseListenAddress = (text: string): { host: string; port: number } | undefined => {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65_535) return undefined;
  return { host, port };
};
/** Whether an address is this machine's own (127.0.0.0/8, ::1, localhost). */
const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

const DEFAULT_CONFIG_FILE = 'faultline.json';

export const runUp = async (
  args: readonly string[],
  streams: Streams,
  env: UpEnvironment,
): Promise<number> => {
  let values: Record<string, string | undefined>;
  try {
    const parsed = parseArgs({
      args: [...args],
      options: {
        listen: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '8787' },
        data: { type: 'string', default: '.faultline' },
        'operator-token': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        config: { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        'metrics-listen': { type: 'string' },
      },
    });
    values = parsed.values as Record<string, string | undefined>;
  } catch (error) {
    streams.stderr(`faultline up: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    streams.stderr(`faultline up: --port must be a port number\n${USAGE}`);
    return 2;
  }
  const logLevel = values['log-level'];
  if (!isLogLevel(logLevel) || logLevel === 'error') {
    streams.stderr(`faultline up: --log-level is info, debug or warn\n${USAGE}`);
    return 2;
  }
  const metricsListen =
    values['metrics-listen'] === undefined ? undefined : parseListenAddress(values['metrics-listen']);
  if (values['metrics-listen'] !== undefined && metricsListen === undefined) {
    streams.stderr(`faultline up: --metrics-listen is ADDR:PORT, such as 127.0.0.1:9464\n${USAGE}`);
    return 2;
  }
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    streams.stderr(`faultline up: --tls-cert and --tls-key go together\n${USAGE}`);
    return 2;
  }
  const configFile = values.config ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  let input: unknown = {};
  if (configFile !== undefined) {
    try {
      input = JSON.parse(readFileSync(configFile, 'utf8'));
    } catch (error) {
      streams.stderr(`faultline up: cannot read ${configFile}: ${(error as Error).message}\n`);
      return 2;
    }
  }
  const config = parseWith(RuntimeConfig, input);
  if (!config.ok) {
    for (const issue of config.issues)
      streams.stderr(`${configFile}: ${issue.path.join('.') || '(file)'}: ${issue.message}\n`);
    return 2;
  }
  const operatorToken = values['operator-token'] ?? env.FAULTLINE_OPERATOR_TOKEN;
  const starting = startControlPlane({
    listen: values.listen ?? '127.0.0.1',
    port,
    dataDir: values.data ?? '.faultline',
    config: config.value,
    operatorToken,
    tls:
      values['tls-cert'] === undefined || values['tls-key'] === undefined
        ? undefined
        : { certFile: values['tls-cert'], keyFile: values['tls-key'] },
    logLevel,
    metricsListen,
    log: terminalLog({ level: logLevel, stdout: streams.stdout, stderr: streams.stderr }),
  });
  let plane: Awaited<typeof starting>;
  try {
    plane = await starting;
  } catch (error) {
    const refusal = [DataFolderInUseError, DataFolderIncompleteError, OperatorTokenNotKnownError];
    if (!(error instanceof Error) || !refusal.some((kind) => error instanceof kind)) throw error;
    streams.stderr(`faultline up: ${error.message}\n`);
    return 1;
  }
  if (plane.dataFolder === 'new') {
    const made =
      plane.mintedOperatorToken === undefined
        ? 'a new plan-signing key'
        : 'a new plan-signing key and a new operator token';
    streams.stderr(
      `faultline up: warning: ${plane.dataDir} held no control plane, so this start made ${made} (key fingerprint ${plane.planKeyFingerprint}). Agents configured with another plan key refuse every plan until given ${plane.planPublicKeyFile}, and agent tokens minted elsewhere are not known here. If this folder held a control plane before, stop now and restore it from its backup.\n`,
    );
  }
  streams.stdout(`Faultline control plane listening on ${plane.url}\n`);
  streams.stdout(`  data: ${plane.dataDir} (${plane.databaseFile})\n`);
  if (plane.dataFolder === 'new') {
    streams.stdout(
      `  NEW DATA FOLDER: a new plan-signing key (fingerprint ${plane.planKeyFingerprint})${plane.mintedOperatorToken === undefined ? '' : ' and a new operator token'} were made.\n    Give every agent the new public key, ${plane.planPublicKeyFile}: until then they refuse its plans.\n`,
    );
  } else {
    streams.stdout(`  plan key: ${plane.planPublicKeyFile} (fingerprint ${plane.planKeyFingerprint})\n`);
  }
  streams.stdout(`  web page: ${plane.url}/ (sign in with the operator token)\n`);
  streams.stdout(`  pages go to: ${plane.pages.description}\n`);
  streams.stdout(
    `  metrics: ${plane.url}${METRICS_PATH} (operator token)${plane.metricsUrl === undefined ? '' : `, ${plane.metricsUrl} (no token)`}\n`,
  );
  if (metricsListen !== undefined && !isLoopback(metricsListen.host)) {
    streams.stderr(
      `faultline up: warning: ${plane.metricsUrl} serves /metrics with no token on ${metricsListen.host}, beyond this machine; keep it behind a firewall or listen on 127.0.0.1\n`,
    );
  }
  streams.stdout(
    `  log level: ${logLevel}${logLevel === 'info' ? ' (--log-level debug for every decision as JSON)' : ''}\n`,
  );
  if (plane.mintedOperatorToken !== undefined) {
    streams.stdout(
      `  operator token (shown once; also in ${plane.dataDir}/operator-token):\n    ${plane.mintedOperatorToken}\n`,
    );
  }
  streams.stdout('  mint an agent token:  ./bin/faultline tokens create --host <hostId>\n');
  streams.stdout('  watch incidents:      ./bin/faultline incidents\n');
  streams.stdout('  try it:               ./bin/faultline demo\n');
  await new Promise<void>((done) => {
    const shutdown = (signal: string) => {
      streams.stdout(`\n${signal}: draining what is in flight...\n`);
      plane.stop().then(done, (error: Error) => {
        streams.stderr(`faultline up: ${error.message}\n`);
        done();
      });
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
  streams.stdout('stopped\n');
  return 0;
};
