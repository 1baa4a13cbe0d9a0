import { z } from 'zod';
import { CoreConfig } from '../functions/core/index.ts';
import { NotifyConfig } from '../functions/notify/config.ts';

/**
 * `faultline.json`: the local runtime's settings, all optional. Every timing knob of the core
 * (grouping window, hold-down, stability period, plans per wave, escalation delays) lives under
 * `core` with the defaults of docs/architecture.md §5; the runtime's own knobs mirror the Lambda event source
 * mappings and the sweep schedule of the cloud, so a test can run a whole incident in seconds.
 */

const Seconds = z.number().min(0.05).max(86_400);

/**
 * The PagerDuty-format sink `faultline demo` listens on while it runs (cli/demo/page-sink.ts).
 * Without a `notify` section, pages go there while a running demo has it registered in the data
 * folder, and are kept in their incident's timeline otherwise (pages.ts).
 */
export const LOCAL_SINK = { host: '127.0.0.1', port: 8788, path: '/v2/enqueue' } as const;
export const LOCAL_SINK_DESTINATION = {
  name: 'demo-sink',
  kind: 'pagerduty',
  url: `http://${LOCAL_SINK.host}:${LOCAL_SINK.port}${LOCAL_SINK.path}`,
  routingKey: 'faultlinelocalsink00000000',
} as const;

export const RuntimeConfig = z.strictObject({
  core: CoreConfig.default(CoreConfig.parse({})),
  /** How often sweep fires the core's timers and drains the outbox (the cloud: every minute). */
  sweepIntervalSeconds: Seconds.default(5),
  queues: z
    .strictObject({
      /**
       * Records per batch handed to correlate, as a Lambda event source mapping's batch size (up to
       * 10,000 with a batching window): each batch is one store commit on this runtime.
       */
      batchSize: z.int().min(1).max(10_000).default(200),
      /** Records per batch handed to notify. */
      notifyBatchSize: z.int().min(1).max(10).default(10),
      /** How long a received batch stays invisible before it comes back (redelivery). */
      visibilityTimeoutSeconds: z.int().min(1).max(43_200).default(60),
      /** Receives before a record moves to its dead-letter queue. */
      maxReceiveCount: z.int().min(1).max(1000).default(5),
      /** The longest a consumer waits for a message before it looks again. */
      waitTimeSeconds: z.int().min(0).max(20).default(1),
    })
    .default({
      batchSize: 200,
      notifyBatchSize: 10,
      visibilityTimeoutSeconds: 60,
      maxReceiveCount: 5,
      waitTimeSeconds: 1,
    }),
  /**
   * Where pages go: PagerDuty, Slack or signed webhooks (an allow-list). `"destinations": []`:
   * nowhere, each page is kept in its incident's timeline. Without a `notify` section, pages go
   * in PagerDuty's format to the sink `faultline demo` listens on (`LOCAL_SINK_DESTINATION`,
   * `demo-sink`) while the demo runs, and are kept in their incident's timeline otherwise (pages.ts):
   * nothing leaves the machine until you name real destinations. `faultline up` and `faultline
   * stats` say which. `notify.publicUrl` (this machine's URL as people reach it, e.g. the one
   * `faultline up` prints) makes PagerDuty triggers and Slack and webhook messages link each
   * incident's page; the demo's sink gets `faultline up`'s own URL.
   */
  notify: NotifyConfig.optional(),
  /** How long `GET /v1/agents/:hostId/plans?wait=` may hold a request. */
  longPollMaxSeconds: z.int().min(0).max(60).default(20),
  /** How often agents are asked to poll for plans, with work in flight and without. */
  pollSeconds: z
    .strictObject({ active: z.int().min(1).max(3600).default(5), idle: z.int().min(1).max(3600).default(60) })
    .default({ active: 5, idle: 60 }),
});
export type RuntimeConfig = z.infer<typeof RuntimeConfig>;
export type RuntimeConfigInput = z.input<typeof RuntimeConfig>;
