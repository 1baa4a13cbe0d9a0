import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_SINK } from '../../local/config.ts';
import { DemoError } from '../../sim/errors.ts';

/**
 * The demo's built-in PagerDuty Events API v2 sink: `faultline up` sends pages there until real
 * destinations are named (`LOCAL_SINK`). It answers as PagerDuty does (202) and keeps each page,
 * so the demo can show the trigger and the resolve arriving.
 */

export type Page = {
  event_action: string;
  dedup_key?: string;
  routing_key?: string;
  payload?: { summary?: string; severity?: string; source?: string };
  receivedAt: number;
};

/** Largest page body read. */
const MAX_BODY_BYTES = 512 * 1024;

export type PageSink = { url: string; pages: Page[]; close: () => Promise<void> };

export const startPageSink = async (
  port: number = LOCAL_SINK.port,
  host: string = LOCAL_SINK.host,
  onPage: (page: Page) => void = () => undefined,
): Promise<PageSink> => {
  const pages: Page[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_BYTES) request.destroy();
    });
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== LOCAL_SINK.path) {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"status":"not found"}');
        return;
      }
      try {
        const page = { ...(JSON.parse(body) as Omit<Page, 'receivedAt'>), receivedAt: Date.now() };
        if (typeof page.event_action !== 'string') throw new Error('no event_action');
        pages.push(page);
        onPage(page);
        response
          .writeHead(202, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: page.dedup_key }));
      } catch {
        response.writeHead(400, { 'content-type': 'application/json' }).end('{"status":"invalid event"}');
      }
    });
  });
  await new Promise<void>((ready, fail) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      fail(
        new DemoError(
          'sink-port-busy',
          `the demo's page sink cannot listen on ${host}:${port} (${error.code ?? error.message}): is another demo running? pass --sink-port`,
          { cause: error },
        ),
      ),
    );
    server.listen(port, host, ready);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}${LOCAL_SINK.path}`,
    pages,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
};
