/**
 * The core's entry points (docs/architecture.md §2): `keysFor` names the slices an input touches, `decide`
 * applies one input to them, `keysForWake` and `tick` do the same for the timers that are due. All
 * are pure: the same slices, input and time give the same slices and effects, byte for byte. This
 * file only dispatches, by input kind, to functions/core/decide/ (agent events, operator commands,
 * internal inputs, timers) and ends every decision with the same scheduling.
 */
import type { FaultlineEvent } from '../../events/index.ts';
import { type CoreConfig, DEFAULT_CORE_CONFIG } from './config.ts';
import { applyEvent, eventDomains } from './decide/agent-events.ts';
import { applyInternal } from './decide/internal-inputs.ts';
import { applyOperator } from './decide/operator-commands.ts';
import { onDomainWake, onHostWake } from './decide/timers.ts';
import { scheduleDomain, scheduleHost } from './episodes.ts';
import type { CoreInput, Decision, InternalInput, OperatorCommand, SliceKeys, Slices } from './model.ts';
import { toMs } from './time.ts';
import { Transaction } from './transaction.ts';

const NO_KEYS: SliceKeys = { hosts: [], domains: [], waitingOf: [], openDomains: false };

/** The slices an input touches, from the input alone. */
export const keysFor = (input: CoreInput): SliceKeys => {
  switch (input.type) {
    case 'operator.pause':
      // Every open domain: pausing is noted in each open incident's timeline.
      return { ...NO_KEYS, openDomains: true };
    case 'operator.resume':
      return input.failureDomain === undefined
        ? { ...NO_KEYS, openDomains: true }
        : { ...NO_KEYS, domains: [input.failureDomain] };
    case 'operator.approve':
      return { ...NO_KEYS, domains: [input.failureDomain] };
    case 'operator.resolve':
      return {
        ...NO_KEYS,
        domains: input.failureDomain === undefined ? [] : [input.failureDomain],
        hosts: input.hostId === undefined ? [] : [input.hostId],
      };
    case 'operator.maintenance':
      return input.target === 'host'
        ? { ...NO_KEYS, hosts: [input.name] }
        : { ...NO_KEYS, domains: [input.name] };
    case 'internal.join':
    case 'internal.critical':
      return { ...NO_KEYS, hosts: [input.hostId], domains: [input.failureDomain] };
    case 'internal.revoke':
      return { ...NO_KEYS, hosts: [input.hostId] };
    case 'internal.silence':
      return { ...NO_KEYS, hosts: input.clients, domains: [input.failureDomain] };
    case 'internal.guest-disks':
      return {
        ...NO_KEYS,
        hosts: [input.hostId],
        domains: [...new Set(Object.values(input.domains))].sort(),
      };
    default:
      return { ...NO_KEYS, hosts: [input.hostid], domains: eventDomains(input) };
  }
};

/** The slices a due timer needs: a domain with its waiting hosts, or a host (with the domains it refers to). */
export const keysForWake = (slice: { kind: 'domain' | 'host'; id: string }): SliceKeys =>
  slice.kind === 'domain'
    ? { ...NO_KEYS, domains: [slice.id], waitingOf: [slice.id] }
    : { ...NO_KEYS, hosts: [slice.id] };

/** Ends a decision or a tick: every slice written gets its next wake time before it is saved. */
const finish = (txn: Transaction): Decision => {
  // A domain asked to wake is written, so that its new wake time is saved.
  for (const failureDomain of txn.wakeRequests()) txn.domain(failureDomain);
  for (const domain of txn.writtenDomainList()) scheduleDomain(txn, domain);
  for (const host of txn.writtenHostList()) scheduleHost(txn, host);
  return txn.result();
};

/** Applies one input (an event, an operator command or a follow-up) to the slices `keysFor` named. */
export const decide = (
  slices: Slices,
  input: CoreInput,
  now: string,
  config: CoreConfig = DEFAULT_CORE_CONFIG,
): Decision => {
  const txn = new Transaction(slices, config, now);
  if (input.type.startsWith('operator.')) applyOperator(txn, input as OperatorCommand);
  else if (input.type.startsWith('internal.')) applyInternal(txn, input as InternalInput);
  else applyEvent(txn, input as FaultlineEvent);
  return finish(txn);
};

/** Fires every timer due at `now` among the slices given (those `keysForWake` named). */
export const tick = (slices: Slices, now: string, config: CoreConfig = DEFAULT_CORE_CONFIG): Decision => {
  const txn = new Transaction(slices, config, now);
  for (const host of Object.values(slices.hosts).sort((a, b) => (a.hostId < b.hostId ? -1 : 1))) {
    if (host.wakeAt !== undefined && toMs(host.wakeAt) <= toMs(now)) onHostWake(txn, host.hostId);
  }
  for (const domain of Object.values(slices.domains).sort((a, b) =>
    a.failureDomain < b.failureDomain ? -1 : 1,
  )) {
    if (domain.wakeAt !== undefined && toMs(domain.wakeAt) <= toMs(now)) {
      txn.firesWake(domain.failureDomain);
      onDomainWake(txn, domain.failureDomain);
    }
  }
  return finish(txn);
};
