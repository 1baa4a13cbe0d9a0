import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FaultlineEvent } from '../events/index.ts';

/**
 * The ingest bench's peer: Prometheus Alertmanager 0.25 as Debian ships it
 * (`apt-get install prometheus-alertmanager`, /usr/bin/prometheus-alertmanager), fed the same storm
 * as alerts. Each event becomes one alert labelled `alertname` (the event's type), `host` (its
 * `hostid`) and `failure_domain` (the storm's failure domain: every event of the storm belongs to
 * the fleet of that server), with the event id as an annotation and no `startsAt`/`endsAt`
 * (Alertmanager stamps the time of receipt and resolves after `resolve_timeout`, set long so
 * nothing resolves during the run).
 *
 * Alertmanager runs on loopback with clustering off (`--cluster.listen-address=` empty), its own
 * `--storage.path` in a temporary folder, one route grouping on `failure_domain` with
 * `ALERTMANAGER_TIMERS` (`group_wait`, `group_interval`), and a webhook receiver: an HTTP server in
 * the bench process that records when each grouped notification arrives and how many alerts it
 * carries. Its time to the complete notification is therefore bounded below by those timers; the
 * rows say so.
 */

export const ALERTMANAGER_BINARY = '/usr/bin/prometheus-alertmanager';

/** The route's timers, in seconds: small, so the complete notification follows the storm closely. */
export const ALERTMANAGER_TIMERS = { groupWaitSeconds: 1, groupIntervalSeconds: 1 } as const;

/** An alert as `POST /api/v2/alerts` takes it. */
export interface PostableAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** One grouped notification the webhook receiver got. */
export interface GroupNotification {
  /** `performance.now()` of the bench process when the request body was read. */
  readonly receivedAt: number;
  readonly failureDomain: string | undefined;
  readonly alerts: number;
}

export interface WebhookReceiver {
  readonly url: string;
  /** Resolves with the first notification (already received or to come) that `accepts`. */
  readonly waitFor: (accepts: (notification: GroupNotification) => boolean) => Promise<GroupNotification>;
  readonly close: () => Promise<void>;
}

export interface PreparedAlertmanager {
  readonly command: string;
  readonly args: readonly string[];
  /** Where `POST /api/v2/alerts` goes. */
  readonly url: string;
  /** Answers 200 once Alertmanager serves. */
  readonly readyUrl: string;
}

/** Why the peer cannot run here, or undefined when it can. */
export const alertmanagerMissing = (): string | undefined =>
  existsSync(ALERTMANAGER_BINARY)
    ? undefined
    : `Alertmanager is not installed (${ALERTMANAGER_BINARY}); install it with \`apt-get install prometheus-alertmanager\` to measure the peer`;

/** The storm as Alertmanager alerts, one per event. */
export const alertsOf = (events: readonly FaultlineEvent[], failureDomain: string): PostableAlert[] =>
  events.map((event) => ({
    labels: { alertname: event.type, host: event.hostid, failure_domain: failureDomain },
    annotations: { event_id: event.id },
  }));

const listening = (server: Server): Promise<number> =>
  new Promise((ready, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ready((server.address() as AddressInfo).port));
  });

const closing = (server: Server): Promise<void> =>
  new Promise((done) => {
    server.closeAllConnections();
    server.close(() => done());
  });

/** A port nobody listens on right now (bound and released: the usual small race). */
const freePort = async (): Promise<number> => {
  const probe = createServer();
  const port = await listening(probe);
  await closing(probe);
  return port;
};

/** The bench's webhook receiver on 127.0.0.1: records every notification Alertmanager sends. */
export const startWebhookReceiver = async (): Promise<WebhookReceiver> => {
  const received: GroupNotification[] = [];
  const waiters: { accepts: (n: GroupNotification) => boolean; resolve: (n: GroupNotification) => void }[] =
    [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const receivedAt = performance.now();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        alerts?: unknown[];
        groupLabels?: Record<string, string>;
      };
      const notification: GroupNotification = {
        receivedAt,
        failureDomain: body.groupLabels?.failure_domain,
        alerts: body.alerts?.length ?? 0,
      };
      received.push(notification);
      for (const waiter of waiters.splice(0)) {
        if (waiter.accepts(notification)) waiter.resolve(notification);
        else waiters.push(waiter);
      }
      response.writeHead(200).end();
    });
  });
  const port = await listening(server);
  return {
    url: `http://127.0.0.1:${port}/`,
    waitFor: (accepts) => {
      const already = received.find(accepts);
      if (already !== undefined) return Promise.resolve(already);
      return new Promise((resolve) => waiters.push({ accepts, resolve }));
    },
    close: () => closing(server),
  };
};

const configYaml = (webhookUrl: string): string =>
  [
    'global:',
    '  resolve_timeout: 1h',
    'route:',
    '  receiver: bench',
    "  group_by: ['failure_domain']",
    `  group_wait: ${ALERTMANAGER_TIMERS.groupWaitSeconds}s`,
    `  group_interval: ${ALERTMANAGER_TIMERS.groupIntervalSeconds}s`,
    '  repeat_interval: 24h',
    'receivers:',
    '  - name: bench',
    '    webhook_configs:',
    `      - url: '${webhookUrl}'`,
    '        send_resolved: false',
    '        max_alerts: 0',
    '',
  ].join('\n');

/**
 * Alertmanager's command line for one run, with its configuration and storage in `folder` (fresh,
 * the caller's to remove) and a free loopback port. The caller starts it (as it starts
 * `faultline up`, so both are supervised and measured alike) and waits for `readyUrl`.
 */
export const prepareAlertmanager = async (
  webhookUrl: string,
  folder: string,
): Promise<PreparedAlertmanager> => {
  const configFile = join(folder, 'alertmanager.yml');
  writeFileSync(configFile, configYaml(webhookUrl));
  const port = await freePort();
  return {
    command: ALERTMANAGER_BINARY,
    args: [
      `--config.file=${configFile}`,
      `--storage.path=${join(folder, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    url: `http://127.0.0.1:${port}`,
    readyUrl: `http://127.0.0.1:${port}/-/ready`,
  };
};
