import { connect } from 'node:net';
import type { PageRoutesBody } from '../events/index.ts';
import type { BatchResponse, QueueEvent } from '../functions/adapters/queue/batch.ts';
import { type NotifyConfig, parseNotifyConfig, resolveDestinations } from '../functions/notify/config.ts';
import { LOCAL_SINK, LOCAL_SINK_DESTINATION } from './config.ts';

/**
 * Where the local runtime's pages go, said in the start banner of `faultline up` and in
 * `faultline stats` (`pages` of `GET /v1/stats`):
 *
 * - `notify.destinations` in faultline.json: those destinations (by name and kind), and nowhere
 *   else; `"destinations": []`: nowhere, each page kept in its incident's timeline
 *   (functions/notify/notify.ts);
 * - no `notify` section: the sink `faultline demo` listens on (`demo-sink`, PagerDuty's format on
 *   127.0.0.1:8788) while a demo runs, so the demo shows its pages arriving; when nothing listens
 *   there, the page is kept in its incident's timeline instead, acknowledged, never retried into
 *   the dead-letter queue. notify looks before each batch ({@link whileListening}); a sink that
 *   goes away between the look and the send costs one retry, after which the page is kept.
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
      description: `${describeDestination(LOCAL_SINK_DESTINATION)} at ${LOCAL_SINK_DESTINATION.url} while \`faultline demo\` runs; otherwise ${NOWHERE} (name destinations under "notify" in faultline.json to page people)`,
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

/** The demo's sink as notify reaches it: its destination, and where to look whether it listens. */
export interface DemoSink {
  readonly destination: Readonly<Record<string, unknown>> & { readonly name: string; readonly url: string };
  readonly host: string;
  readonly port: number;
}

const DEMO_SINK: DemoSink = {
  destination: LOCAL_SINK_DESTINATION,
  host: LOCAL_SINK.host,
  port: LOCAL_SINK.port,
};

/**
 * notify over the demo's sink: each batch goes to the sink while it listens, and to no
 * destination (the timeline) otherwise. `make` builds notify over one configuration; both share
 * the delivery log, so a page is delivered once whichever took it.
 */
export const whileListening = (
  make: (config: NotifyConfig) => NotifyHandler,
  sink: DemoSink = DEMO_SINK,
): NotifyHandler => {
  const toSink = make(parseNotifyConfig({ destinations: [sink.destination] }));
  const kept = make(parseNotifyConfig({ destinations: [] }));
  return async (event) => ((await listening(sink.host, sink.port)) ? toSink(event) : kept(event));
};
