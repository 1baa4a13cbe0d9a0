import { randomUUID } from 'node:crypto';
import {
  AGENT_SOURCE_PREFIX,
  EventsAccepted,
  FailureDomain,
  type FaultlineEvent,
  issuesText,
  parseEvent,
  parseWith,
  Rfc3339,
} from '../events/index.ts';
import { answer, type CommandContext, call, UsageError } from './operator-client.ts';

/**
 * `faultline announce <domain> going-down|up` (docs/architecture.md §6): for an operator or an HMC
 * script, the same event a server's own agent sends, posted with the operator token (which may
 * announce any domain, §3 "Sender binding"):
 *
 * - `going-down` → `domain.going-down {failureDomain, reason?}`, for any kind of domain;
 * - `up` on `vscsi:<system>/<partition>` → `ipl.completed {partition, system, failureDomain, bootedAt}`;
 * - `up` on `vdisk:<control>/<service domain>` → `domain.rebooted {domain, role: service, failureDomain, bootedAt}`;
 * - `up` on any other kind of domain is a usage error: nothing announces an FC port or a local
 *   disk back (its clients' `path.restored` and `disk.probed` do).
 *
 * The event is the operator's own: host id and boot id `operator`, `seq` the milliseconds since
 * the epoch (increasing from one announcement to the next), a fresh id; `bootedAt` is
 * `--booted-at` or now. The control plane stamps `receivedat` and `sentby` (`operator:<label>`).
 */

export const ANNOUNCE_USAGE = `usage:
  faultline announce <domain> going-down [--reason R] [--json]
  faultline announce <domain> up [--booted-at T] [--json]
    up: ipl.completed for vscsi:<system>/<partition>, domain.rebooted for vdisk:<control>/<service domain>
    --booted-at: when the server booted (RFC 3339), default now
`;

/** The host id, boot id and source of every event an operator announces. */
export const OPERATOR_SENDER = 'operator';

/** What the event says, by the domain's kind: the server's name is its subject. */
const announcement = (
  domain: string,
  state: 'going-down' | 'up',
  options: { readonly reason?: string; readonly bootedAt: string },
): Pick<FaultlineEvent, 'type' | 'subject' | 'data'> => {
  const vscsi = /^vscsi:([^/]+)\/(.+)$/.exec(domain);
  const vdisk = /^vdisk:([^/]+)\/(.+)$/.exec(domain);
  const server = vscsi?.[2] ?? vdisk?.[2] ?? domain;
  if (state === 'going-down') {
    return {
      type: 'domain.going-down',
      subject: server,
      data: { failureDomain: domain, ...(options.reason === undefined ? {} : { reason: options.reason }) },
    };
  }
  if (vscsi?.[1] !== undefined && vscsi[2] !== undefined) {
    return {
      type: 'ipl.completed',
      subject: server,
      data: { partition: vscsi[2], system: vscsi[1], failureDomain: domain, bootedAt: options.bootedAt },
    };
  }
  if (vdisk?.[2] !== undefined) {
    return {
      type: 'domain.rebooted',
      subject: server,
      data: { domain: vdisk[2], role: 'service', failureDomain: domain, bootedAt: options.bootedAt },
    };
  }
  throw new UsageError(
    `only a hosting partition (vscsi:<system>/<partition>) or a service domain (vdisk:<control>/<domain>) is announced up; ${domain} comes back when its clients report it (path.restored, disk.probed)`,
  );
};

/** `faultline announce <domain> going-down|up`. */
export const runAnnounce = async (
  context: CommandContext,
  now: () => Date = () => new Date(),
): Promise<number> => {
  const [domain, state, ...rest] = context.positionals;
  if (domain === undefined || state === undefined)
    throw new UsageError('announce needs <domain> going-down|up');
  if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(' ')}`);
  if (state !== 'going-down' && state !== 'up')
    throw new UsageError(`announce ${domain} ${state}: say going-down or up`);
  const parsedDomain = parseWith(FailureDomain, domain);
  if (!parsedDomain.ok) throw new UsageError(`${domain}: ${issuesText(parsedDomain.issues)}`);
  const reason = context.text('reason');
  const bootedAtOption = context.text('booted-at');
  if (state === 'up' && reason !== undefined) throw new UsageError('--reason goes with going-down');
  if (state === 'going-down' && bootedAtOption !== undefined)
    throw new UsageError('--booted-at goes with up');
  if (bootedAtOption !== undefined && !parseWith(Rfc3339, bootedAtOption).ok) {
    throw new UsageError(`--booted-at ${bootedAtOption}: not an RFC 3339 time such as 2026-11-22T03:31:52Z`);
  }
  const at = now();
  const what = announcement(parsedDomain.value, state, {
    ...(reason === undefined ? {} : { reason }),
    bootedAt: bootedAtOption ?? at.toISOString(),
  });
  const parsed = parseEvent({
    specversion: '1.0',
    id: `${OPERATOR_SENDER}-${randomUUID()}`,
    source: `${AGENT_SOURCE_PREFIX}${OPERATOR_SENDER}`,
    time: at.toISOString(),
    datacontenttype: 'application/json',
    hostid: OPERATOR_SENDER,
    bootid: OPERATOR_SENDER,
    seq: at.getTime(),
    ...what,
  });
  if (!parsed.ok)
    throw new UsageError(`the announcement would not be a valid event: ${issuesText(parsed.issues)}`);
  const accepted = answer(
    EventsAccepted,
    await call(context.connection, 'POST', '/v1/events', [parsed.value]),
    'POST /v1/events',
  );
  context.print(accepted, () => `announced ${parsed.value.type} for ${domain} (event ${parsed.value.id})\n`);
  return 0;
};
