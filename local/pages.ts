import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import type { PageRoutesBody } from '../events/index.ts';
import type { BatchResponse, QueueEvent } from '../functions/adapters/queue/batch.ts';
import {
  type NotifyConfig,
  PublicUrl,
  parseNotifyConfig,
  resolveDestinations,
} from '../functions/notify/config.ts';
import { LOCAL_SINK, LOCAL_SINK_DESTINATION } from './config.ts';
import { DATA_FILES } from './data-files.ts';
import { isAlive } from './data-folder-lock.ts';

/**
 * Where the local runtime's pages go, said in the start banner of `faultline up` and in
 * `faultline stats` (`pages` of `GET /v1/stats`):
 *
 * - `notify.destinations` in faultline.json: those destinations (by name and kind), and nowhere
 *   else; `"destinations": []`: nowhere, each page kept in its incident's timeline
 *   (functions/notify/notify.ts);
 * - no `notify` section: the sink of a running `faultline demo` (`demo-sink`, PagerDuty's format on
 *   loopback), which the demo registers in the data folder ({@link DEMO_SINK_FILE}) while it runs,
 *   so the demo shows its pages arriving; with no demo registered (or its sink not listening),
 *   the page is kept in its incident's timeline instead, acknowledged, never retried into the
 *   dead-letter queue. notify looks before each batch ({@link whileListening}); a sink that goes
 *   away between the look and the send costs one retry, after which the page is kept.
 */

/** Where pages go, kept in the timeline, in words. */
export const NOWHERE = "nowhere: kept in each incident's timeline";

const describeDestination = (destination: { name: string; kind: string }): string =>
  `${destination.name} (${destination.kind})`;

/** Where pages go under `notify` (undefined: no `notify` section). */
export const pageRoutesOf = (notify: NotifyConfig | undefined): PageRoutesBody => {
  if (notify === undefined) {
    return {
      destinations: [{ name: LOCAL_SINK_DESTINATION.name, kind: 'pagerduty', whileListening: true }],
      description: `${describeDestination(LOCAL_SINK_DESTINATION)}, the sink a running \`faultline demo\` registers in the data folder; otherwise ${NOWHERE} (name destinations under "notify" in faultline.json to page people)`,
    };
  }
  const { allowed, blocked } = resolveDestinations(notify);
  const unreachable =
    blocked.length === 0
      ? ''
      : `; never called, not on the allow-list: ${blocked.map(describeDestination).join(', ')}`;
  if (allowed.length === 0) return { destinations: [], description: `${NOWHERE}${unreachable}` };
  return {
    destinations: allowed.map((destination) => ({ name: destination.name, kind: destination.kind })),
    description: `${allowed.map(describeDestination).join(', ')}${unreachable}`,
  };
};

type NotifyHandler = (event: QueueEvent) => Promise<BatchResponse>;

/** How long a look at the demo's sink may take (loopback: it answers at once, or refuses). */
const LOOK_TIMEOUT_MS = 500;

/** Whether something accepts a connection at `host:port` (loopback only). */
export const listening = (host: string, port: number): Promise<boolean> =>
  new Promise((answer) => {
    const socket = connect({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      answer(open);
    };
    socket.setTimeout(LOOK_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });

/**
 * The file `faultline demo` writes in the control plane's data folder while its sink listens
 * (`{"port": N, "pid": P}`, mode 0600), and removes when it stops. Only the operator who owns the
 * data folder can write it: a process that merely listens on a port of this machine gets no page.
 */
export const DEMO_SINK_FILE = 'demo-sink.json';

const DemoSinkRegistration = z.strictObject({
  port: z.int().min(1).max(65_535),
  pid: z.int().min(1),
});

/** The port of the demo's sink, when a demo that is still running registered one in `dataDir`. */
export const registeredDemoSink = (dataDir: string): number | undefined => {
  let text: string;
  try {
    text = readFileSync(join(dataDir, DEMO_SINK_FILE), 'utf8');
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const registration = DemoSinkRegistration.safeParse(parsed);
  return registration.success && isAlive(registration.data.pid) ? registration.data.port : undefined;
};

/** Registers the demo's sink in `dataDir` (`faultline demo`); answers how to take it back. */
export const registerDemoSink = (dataDir: string, port: number): (() => void) => {
  const file = join(dataDir, DEMO_SINK_FILE);
  writeFileSync(file, `${JSON.stringify({ port, pid: process.pid })}\n`, { mode: 0o600 });
  return () => rmSync(file, { force: true });
};

/** The demo sink's destination on `port`: PagerDuty's format, on loopback. */
const demoSinkDestination = (port: number) => ({
  ...LOCAL_SINK_DESTINATION,
  url: `http://${LOCAL_SINK.host}:${port}${LOCAL_SINK.path}`,
});

/**
 * This control plane's own URL, which `faultline up` writes to the data folder once it listens
 * (before notify takes its first batch): the demo's pages link their incident's page under it.
 */
const ownUrl = (dataDir: string): string | undefined => {
  let text: string;
  try {
    text = readFileSync(join(dataDir, DATA_FILES.url), 'utf8');
  } catch {
    return undefined;
  }
  const parsed = PublicUrl.safeParse(text.trim());
  return parsed.success ? parsed.data : undefined;
};

/**
 * notify over the demo's sink: each batch goes to the sink a running demo registered in
 * `dataDir` while it listens, and to no destination (the timeline) otherwise. `make` builds
 * notify over one configuration; all share the delivery log, so a page is delivered once
 * whichever took it. The sink's triggers link the incident's page on this control plane.
 */
export const whileListening = (
  make: (config: NotifyConfig) => NotifyHandler,
  dataDir: string,
): NotifyHandler => {
  const kept = make(parseNotifyConfig({ destinations: [] }));
  const toSink = new Map<number, NotifyHandler>();
  return async (event) => {
    const port = registeredDemoSink(dataDir);
    if (port === undefined || !(await listening(LOCAL_SINK.host, port))) return kept(event);
    let handler = toSink.get(port);
    if (handler === undefined) {
      const publicUrl = ownUrl(dataDir);
      handler = make(
        parseNotifyConfig({
          ...(publicUrl === undefined ? {} : { publicUrl }),
          destinations: [demoSinkDestination(port)],
        }),
      );
      toSink.set(port, handler);
    }
    return handler(event);
  };
};
