import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real peers on loopback for the HTTP publisher: an events API, an HTTP proxy that only tunnels
 * (CONNECT), and a throwaway CA with a server certificate for 127.0.0.1 made with the openssl
 * command line (Node can verify certificates but not issue them).
 */

export type RecordedRequest = {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
};
export type ApiAnswer = { status: number; body?: unknown; headers?: Record<string, string> };
export type ApiHandler = (request: RecordedRequest) => ApiAnswer;

export type EventsApi = { url: string; requests: RecordedRequest[]; stop: () => Promise<void> };

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

const close = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

const serve =
  (handler: ApiHandler, requests: RecordedRequest[]) =>
  (request: IncomingMessage, response: ServerResponse): void => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const recorded: RecordedRequest = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      const answer = handler(recorded);
      response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      response.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
    });
  };

/** An events API on http://127.0.0.1:<port>. */
export const startEventsApi = async (handler: ApiHandler): Promise<EventsApi> => {
  const requests: RecordedRequest[] = [];
  const server = createHttpServer(serve(handler, requests));
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, requests, stop: () => close(server) };
};

/** The same API over TLS, with a certificate for 127.0.0.1 and localhost. */
export const startHttpsEventsApi = async (
  handler: ApiHandler,
  certificate: TestCertificate,
): Promise<EventsApi> => {
  const requests: RecordedRequest[] = [];
  const server = createHttpsServer(
    { key: certificate.serverKey, cert: certificate.serverCert },
    serve(handler, requests),
  );
  const port = await listen(server);
  return { url: `https://localhost:${port}`, requests, stop: () => close(server) };
};

export type ConnectProxy = { url: string; tunnels: string[]; stop: () => Promise<void> };

/** An HTTP proxy that answers CONNECT only (every other request gets 405), recording each target. */
export const startConnectProxy = async (
  options: { requireAuthorization?: string } = {},
): Promise<ConnectProxy> => {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server = createHttpServer((_request, response) => {
    response.writeHead(405);
    response.end();
  });
  server.on('connect', (request: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    if (
      options.requireAuthorization !== undefined &&
      request.headers['proxy-authorization'] !== options.requireAuthorization
    ) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    const target = request.url ?? '';
    tunnels.push(target);
    const [host, port] = [
      target.slice(0, target.lastIndexOf(':')),
      Number(target.slice(target.lastIndexOf(':') + 1)),
    ];
    const upstream = connect(port, host === 'localhost' ? '127.0.0.1' : host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await close(server);
    },
  };
};

export type TestCertificate = { caCert: string; serverKey: string; serverCert: string };

/** A CA and a server certificate for localhost and 127.0.0.1, valid for two days. */
export const makeTestCertificate = (): TestCertificate => {
  const directory = mkdtempSync(join(tmpdir(), 'faultline-tls-'));
  const file = (name: string) => join(directory, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  try {
    run(
      ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2']
        .concat(['-subj', '/CN=faultline-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE'])
        .concat(['-addext', 'keyUsage=critical,keyCertSign']),
    );
    run(['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost']);
    writeFileSync(file('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    run(
      ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key')].concat([
        '-CAcreateserial',
        '-out',
        file('server.pem'),
        '-days',
        '2',
        '-extfile',
        file('ext.cnf'),
      ]),
    );
    return {
      caCert: readFileSync(file('ca.pem'), 'utf8'),
      serverKey: readFileSync(file('server.key'), 'utf8'),
      serverCert: readFileSync(file('server.pem'), 'utf8'),
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
};
