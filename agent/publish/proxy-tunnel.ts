import { type ClientRequestArgs, Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { rootCertificates, connect as tlsConnect } from 'node:tls';
import { ProxyTunnelError } from './errors.ts';

/**
 * HTTP(S) agents for the targets: through an HTTP proxy with CONNECT tunnelling when one is
 * configured (the only proxy method that works for both the API and SQS over TLS), and trusting
 * a custom CA bundle in addition to Node's own roots. Built on node:http alone, so the bundled
 * agent carries no proxy library. One pair of agents serves every request, so the tunnels and
 * TLS sessions are reused with keep-alive.
 */

export type TransportOptions = {
  /** `http://[user:password@]proxy:port`. */
  proxy?: string;
  /** Extra CAs (PEM), trusted in addition to Node's roots. */
  caCertificates?: string;
  /** How long to wait for the proxy's answer to CONNECT. */
  connectTimeoutMs: number;
};

export type Transport = { httpAgent: HttpAgent; httpsAgent: HttpsAgent; close: () => void };

const DEFAULT_PORTS = { 'http:': 80, 'https:': 443 } as const;

/** Opens a CONNECT tunnel through the proxy to `host:port`; resolves with the raw socket. */
export const openTunnel = (proxy: URL, host: string, port: number, timeoutMs: number): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const target = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
    const headers: Record<string, string> = { host: target };
    if (proxy.username !== '') {
      const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
      headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
    const request = httpRequest({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: Number(proxy.port || DEFAULT_PORTS['http:']),
      method: 'CONNECT',
      path: target,
      headers,
      agent: false,
      timeout: timeoutMs,
    });
    const proxyName = proxy.host;
    request.once('connect', (response, socket, head) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        reject(new ProxyTunnelError(proxyName, target, response.statusCode));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    request.once('timeout', () => request.destroy(new Error(`no answer to CONNECT within ${timeoutMs} ms`)));
    request.once('error', (error) =>
      reject(new ProxyTunnelError(proxyName, target, undefined, { cause: error })),
    );
    request.end();
  });

class TunnellingHttpAgent extends HttpAgent {
  constructor(
    private readonly proxy: URL,
    private readonly connectTimeoutMs: number,
  ) {
    super({ keepAlive: true });
  }

  override createConnection(
    options: ClientRequestArgs,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = options.hostname ?? options.host ?? 'localhost';
    const port = Number(options.port ?? DEFAULT_PORTS['http:']);
    openTunnel(this.proxy, host, port, this.connectTimeoutMs).then(
      (socket) => callback?.(null, socket),
      (error: Error) => callback?.(error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

class TunnellingHttpsAgent extends HttpsAgent {
  constructor(
    private readonly proxy: URL,
    private readonly connectTimeoutMs: number,
    private readonly ca: string[] | undefined,
  ) {
    super({ keepAlive: true, ...(ca === undefined ? {} : { ca }) });
  }

  override createConnection(
    options: HttpsRequestOptions,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = options.hostname ?? options.host ?? 'localhost';
    const port = Number(options.port ?? DEFAULT_PORTS['https:']);
    openTunnel(this.proxy, host, port, this.connectTimeoutMs).then(
      (socket) => {
        const servername = options.servername ?? (isIP(host) === 0 ? host : undefined);
        const secure = tlsConnect({
          socket,
          ...(servername === undefined ? {} : { servername }),
          ...(this.ca === undefined ? {} : { ca: this.ca }),
          ...(options.rejectUnauthorized === undefined
            ? {}
            : { rejectUnauthorized: options.rejectUnauthorized }),
        });
        callback?.(null, secure);
      },
      (error: Error) => callback?.(error, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** The CAs to trust: Node's roots plus the configured bundle, or undefined for Node's alone. */
export const trustedCas = (caCertificates: string | undefined): string[] | undefined =>
  caCertificates === undefined ? undefined : [...rootCertificates, caCertificates];

/** The agents every publisher uses, proxy and CA applied. */
export const createTransport = (options: TransportOptions): Transport => {
  const ca = trustedCas(options.caCertificates);
  if (options.proxy === undefined) {
    const httpAgent = new HttpAgent({ keepAlive: true });
    const httpsAgent = new HttpsAgent({ keepAlive: true, ...(ca === undefined ? {} : { ca }) });
    return { httpAgent, httpsAgent, close: () => closeAll(httpAgent, httpsAgent) };
  }
  const proxy = new URL(options.proxy);
  const httpAgent = new TunnellingHttpAgent(proxy, options.connectTimeoutMs);
  const httpsAgent = new TunnellingHttpsAgent(proxy, options.connectTimeoutMs, ca);
  return { httpAgent, httpsAgent, close: () => closeAll(httpAgent, httpsAgent) };
};

const closeAll = (...agents: HttpAgent[]): void => {
  for (const agent of agents) agent.destroy();
};
