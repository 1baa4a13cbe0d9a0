import { createHash } from 'node:crypto';
import type { CommandProgress, FaultlineEvent, HostHeartbeat, MirrorDegraded } from '../../events/index.ts';
import { type CoreConfig, DEFAULT_CORE_CONFIG } from './config.ts';
import {
  belongsToEpisode,
  escalate,
  goDown,
  goUp,
  halt,
  join,
  markHealthy,
  maybeResolve,
  openDoubleFault,
  openEpisode,
  openLocalIncident,
  reopenIfDuring,
  resolveDomainEpisode,
  resolveIncident,
  scheduleDomain,
  scheduleHost,
  timeline,
} from './episodes.ts';
import {
  applyHeartbeat,
  applyMirrorEvent,
  applyPathEvent,
  arrayDomains,
  criticalReason,
  implicatedByMirror,
  isHealthyOn,
  isPathHealthy,
  pathKey,
} from './host.ts';
import type {
  CoreInput,
  Decision,
  DomainSlice,
  HostSlice,
  InternalInput,
  OperatorCommand,
  SliceKeys,
  Slices,
} from './model.ts';
import { addSeconds, latest, toMs } from './time.ts';
import { Transaction } from './transaction.ts';
import { dispatch } from './waves.ts';

/**
 * The core's entry points (DESIGN.md §2): `keysFor` names the slices an input touches, `decide`
 * applies one input to them, `tick` fires the timers that are due. All three are pure: the same
 * slices, input and time give the same slices and effects, byte for byte.
 */

const uniqueSorted = (values: Iterable<string>): string[] => [...new Set(values)].sort();

const eventDomains = (event: FaultlineEvent): string[] => {
  switch (event.type) {
    case 'mirror.degraded':
    case 'mirror.recovering':
    case 'mirror.healthy':
      return uniqueSorted(event.data.members.map((member) => member.failureDomain));
    case 'path.lost':
    case 'path.restored':
    case 'domain.going-down':
    case 'domain.rebooted':
    case 'ipl.completed':
    case 'disk.probed':
      return [event.data.failureDomain];
    case 'host.heartbeat':
      return uniqueSorted([
        ...event.data.arrays.flatMap((array) => array.members.map((member) => member.failureDomain)),
        ...event.data.paths.map((path) => path.failureDomain),
      ]);
    case 'command.progress':
      return [];
  }
};

const NO_KEYS: SliceKeys = { hosts: [], domains: [], waitingOf: [], openDomains: false };

/** The slices an input touches, from the input alone. */
export const keysFor = (input: CoreInput): SliceKeys => {
  switch (input.type) {
    case 'operator.pause':
      return NO_KEYS;
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
      return { ...NO_KEYS, hosts: [input.hostId], domains: [input.failureDomain] };
    case 'internal.revoke':
      return { ...NO_KEYS, hosts: [input.hostId] };
    default:
      return { ...NO_KEYS, hosts: [input.hostid], domains: eventDomains(input) };
  }
};

/** The slices a due timer needs: a domain with its waiting hosts, or a host (with the domains it refers to). */
export const keysForWake = (slice: { kind: 'domain' | 'host'; id: string }): SliceKeys =>
  slice.kind === 'domain'
    ? { ...NO_KEYS, domains: [slice.id], waitingOf: [slice.id] }
    : { ...NO_KEYS, hosts: [slice.id] };

/** When an event happened by the ingest's clock: the agent's time corrected by the skew its heartbeats show. */
const occurredAt = (host: HostSlice, event: FaultlineEvent): string => {
  const seen = event.receivedat ?? event.time;
  if (host.skewMs === undefined) return seen;
  const corrected = toMs(event.time) + host.skewMs;
  return corrected <= toMs(seen) ? new Date(corrected).toISOString() : seen;
};

const WINDOW_CAP = 64;
/** The agent's refusal code for a plan id it already ran (agent/executor/codes.ts). */
const ALREADY_RUN = 'already-run';
const LOCAL_HOSTS_CAP = 64;

/**
 * Opens a domain's episode from its clients' symptoms and joins them to it. When the server already
 * announced it was back after those symptoms happened (late, spooled symptoms), the episode is up
 * at once: its clients are healed, not left waiting for an up event that already came.
 */
const openFromSymptoms = (
  txn: Transaction,
  domain: DomainSlice,
  symptoms: readonly { hostId: string; at: string }[],
  reason: string,
): void => {
  const downAt = symptoms.reduce(
    (first, symptom) => (toMs(symptom.at) < toMs(first) ? symptom.at : first),
    txn.now,
  );
  goDown(txn, domain, downAt, reason);
  const incidentId = domain.episode?.incident.id;
  if (incidentId === undefined) return;
  for (const symptom of symptoms) {
    txn.followUp({
      type: 'internal.join',
      hostId: symptom.hostId,
      failureDomain: domain.failureDomain,
      incidentId,
      at: symptom.at,
    });
  }
  if (domain.lastUpAt !== undefined && toMs(domain.lastUpAt) > toMs(downAt)) {
    goUp(txn, domain, domain.lastUpAt, 'its server was already back when the symptoms arrived');
  }
};

/** A symptom implicating a domain (§5.1–5.3): join its episode, open one, or wait out the hold-down. */
const onSymptom = (
  txn: Transaction,
  host: HostSlice,
  resource: string,
  failureDomain: string,
  at: string,
): void => {
  const domain = txn.domain(failureDomain);
  reopenIfDuring(txn, domain, at);
  const episode = openEpisode(domain);
  if (episode !== undefined && belongsToEpisode(episode, at)) {
    join(txn, host, domain, at);
    return;
  }
  const lastUpAt = domain.lastUpAt;
  if (
    episode === undefined &&
    lastUpAt !== undefined &&
    toMs(at) <= toMs(lastUpAt) &&
    toMs(lastUpAt) - toMs(at) <= txn.config.escalateDownSeconds * 1000 &&
    (domain.lastResolved === undefined || toMs(at) > toMs(domain.lastResolved.resolvedAt))
  ) {
    // The server rebooted after this symptom happened: the reboot explains it, even from one client.
    openFromSymptoms(txn, domain, [{ hostId: host.hostId, at }], `a symptom from before its server's reboot`);
    return;
  }
  if (
    episode === undefined &&
    domain.lastResolved !== undefined &&
    toMs(at) <= toMs(domain.lastResolved.resolvedAt)
  ) {
    timeline(txn, domain.lastResolved.incidentId, `late symptom ${resource} on ${host.hostId}`, host.hostId);
    return;
  }
  const window = txn.config.groupingWindowSeconds * 1000;
  const keep = toMs(at) - Math.max(window, txn.config.holdDownSeconds * 1000);
  const recent = domain.recentSymptoms.filter(
    (symptom) => toMs(symptom.at) >= keep && symptom.hostId !== host.hostId,
  );
  recent.push({ hostId: host.hostId, at });
  recent.sort((a, b) => toMs(a.at) - toMs(b.at) || (a.hostId < b.hostId ? -1 : 1));
  domain.recentSymptoms = recent.slice(-WINDOW_CAP);
  const grouped = recent.filter((symptom) => Math.abs(toMs(symptom.at) - toMs(at)) <= window);
  if (grouped.length >= txn.config.minClientsForOutage) {
    // Clients still in their hold-down join too: a lone symptom becomes part of the outage (§5.3).
    openFromSymptoms(txn, domain, recent, `symptoms from ${grouped.length} clients`);
    return;
  }
  if (host.localFaults[resource] === undefined) {
    host.localFaults[resource] = { resource, failureDomain, since: at };
  }
};

const checkCritical = (txn: Transaction, host: HostSlice): void => {
  for (const record of Object.values(host.arrays)) {
    if (host.doubleFaults[record.array] !== undefined) continue;
    const reason = criticalReason(record, (domain) => !txn.isDomainUp(domain));
    if (reason === undefined) continue;
    const domain =
      record.members.find((member) => member.state !== 'in-sync')?.failureDomain ??
      [...arrayDomains(record)].sort()[0] ??
      `local:${host.hostId}`;
    host.doubleFaults[record.array] = openDoubleFault(txn, host, record.array, domain, reason);
  }
  for (const record of Object.values(host.paths)) {
    const key = `map:${record.map}`;
    if (host.doubleFaults[key] !== undefined || record.activePaths !== 0 || isPathHealthy(record.state))
      continue;
    host.doubleFaults[key] = openDoubleFault(
      txn,
      host,
      key,
      record.failureDomain,
      `multipath map ${record.map} has no active path`,
    );
  }
};

const isResourceHealthy = (host: HostSlice, resource: string): boolean => {
  if (resource.startsWith('array:'))
    return host.arrays[resource.slice('array:'.length)]?.health !== 'degraded';
  if (resource.startsWith('path:')) {
    const path = host.paths[resource.slice('path:'.length)];
    return path === undefined || isPathHealthy(path.state);
  }
  return true;
};

/** After any change to a host's resources: heal its episodes, close what healed, forget what ended. */
const reconcileHost = (txn: Transaction, host: HostSlice, reason: string): void => {
  for (const record of Object.values(host.episodes).sort((a, b) => (a.incidentId < b.incidentId ? -1 : 1))) {
    const domain = txn.readDomain(record.failureDomain);
    if (domain.episode?.incident.id !== record.incidentId) {
      // Its incident ended: forget the host's part in it and its plans, so the slice stays small.
      delete host.episodes[record.incidentId];
      for (const plan of Object.values(host.plans)) {
        if (plan.incidentId === record.incidentId) delete host.plans[plan.id];
      }
      continue;
    }
    if (
      record.status !== 'healthy' &&
      record.status !== 'skipped' &&
      isHealthyOn(host, record.failureDomain)
    ) {
      markHealthy(txn, host, record.incidentId, reason);
    }
  }
  for (const [resource, fault] of Object.entries(host.localFaults)) {
    if (!isResourceHealthy(host, resource)) continue;
    if (fault.incident !== undefined)
      resolveIncident(txn, { ...fault.incident }, `${resource} healthy again`);
    delete host.localFaults[resource];
    const domain = txn.domain(fault.failureDomain);
    domain.localHosts = domain.localHosts.filter((hostId) => hostId !== host.hostId);
  }
  for (const [resource, incident] of Object.entries(host.doubleFaults)) {
    const healthy = resource.startsWith('map:')
      ? Object.values(host.paths).every((path) => `map:${path.map}` !== resource || isPathHealthy(path.state))
      : host.arrays[resource]?.health === 'healthy';
    if (!healthy) continue;
    resolveIncident(txn, { ...incident }, `${resource} healthy again`);
    delete host.doubleFaults[resource];
  }
};

const refreshSlots = (txn: Transaction, host: HostSlice): void => {
  for (const record of Object.values(host.episodes)) {
    if (record.status !== 'planned') continue;
    const domain = txn.readDomain(record.failureDomain);
    const slot = domain.episode?.slots[host.hostId];
    if (slot === undefined) continue;
    const remaining = toMs(slot.expiresAt) - toMs(txn.now);
    if (remaining >= (txn.config.slotTimeoutSeconds * 1000) / 2) continue;
    const writable = txn.domain(record.failureDomain).episode?.slots[host.hostId];
    if (writable !== undefined) writable.expiresAt = addSeconds(txn.now, txn.config.slotTimeoutSeconds);
  }
};

/** What a heartbeat says about the host's storage; an agent serialises it the same way each time. */
const heartbeatDigest = (event: HostHeartbeat): string =>
  createHash('sha1')
    .update(JSON.stringify([event.data.arrays, event.data.paths, event.data.disks]))
    .digest('base64');

const applyProgress = (txn: Transaction, host: HostSlice, event: CommandProgress): void => {
  const { data } = event;
  const plan = txn.own(host.plans, data.planId);
  if (plan === undefined) return;
  const domain = txn.domain(plan.failureDomain);
  const episode = openEpisode(domain);
  const slot = episode?.slots[host.hostId];
  plan.lastProgressAt = txn.now;
  const record = txn.own(host.episodes, plan.incidentId);
  if (data.outcome === 'started') {
    if (plan.status === 'issued') plan.status = 'started';
    if (slot !== undefined && slot.planId === plan.id) slot.started = true;
    return;
  }
  if (data.outcome === 'succeeded') {
    const summary = `${data.branch ?? 'steps'}[${data.step}] ${data.action}${data.detail ? `: ${data.detail}` : ''}`;
    if (data.action !== 'disk.probe' && !plan.changed.includes(summary) && plan.mode === 'execute') {
      plan.changed = [...plan.changed, summary];
    }
    const last = data.branch === 'fastPath' ? plan.fastPathCount - 1 : plan.stepCount - 1;
    if (data.step === last && (plan.status === 'issued' || plan.status === 'started')) {
      plan.status = 'succeeded';
      if (episode !== undefined) timeline(txn, episode.incident.id, `plan ${plan.id} succeeded`, host.hostId);
      if (plan.mode === 'dry-run' && record !== undefined && record.status === 'planned') {
        record.status = 'proposed';
        if (slot !== undefined && slot.planId === plan.id && episode !== undefined) {
          delete episode.slots[host.hostId];
          if (episode.canaryHost === host.hostId) {
            episode.canaryDone = true;
            episode.wave = Math.max(episode.wave, 1);
          }
          txn.requestWake(domain.failureDomain);
        }
      }
    }
    return;
  }
  if (
    data.outcome === 'refused' &&
    data.code === ALREADY_RUN &&
    (plan.status === 'started' || plan.status === 'succeeded')
  ) {
    // The agent refused a second delivery of a plan it already ran (§4: a plan id runs at most
    // once): a duplicate, not a failure. The plan's own steps say how it went.
    if (episode !== undefined)
      timeline(
        txn,
        episode.incident.id,
        `${host.hostId} refused plan ${plan.id} again: it already ran`,
        host.hostId,
      );
    return;
  }
  if (data.outcome === 'failed' || data.outcome === 'refused') {
    if (plan.status === 'failed' || plan.status === 'refused' || plan.status === 'revoked') return;
    plan.status = data.outcome;
    if (record !== undefined && record.status === 'planned') record.status = 'failed';
    if (episode === undefined || episode.incident.id !== plan.incidentId) return;
    if (slot !== undefined && slot.planId === plan.id) delete episode.slots[host.hostId];
    const what = `${data.action} at step ${data.step}${data.code ? ` (${data.code})` : ''}${data.detail ? `: ${data.detail}` : ''}`;
    const changed = plan.changed.length === 0 ? 'nothing' : plan.changed.join('; ');
    halt(
      txn,
      domain,
      episode,
      `plan ${plan.id} on ${host.hostId} ${data.outcome}: ${what}. Faultline changed: ${changed}`,
      true,
      { host: host.hostId, planId: plan.id, changed: plan.changed },
    );
  }
};

const applyServerEvent = (txn: Transaction, host: HostSlice, event: FaultlineEvent, at: string): void => {
  switch (event.type) {
    case 'domain.going-down': {
      if (host.role === 'hosting') host.serves = event.data.failureDomain;
      goDown(txn, txn.domain(event.data.failureDomain), at, event.data.reason ?? 'announced going down');
      return;
    }
    case 'ipl.completed':
    case 'domain.rebooted': {
      const domain = txn.domain(event.data.failureDomain);
      if (event.type === 'ipl.completed' && host.role === 'hosting') host.serves = event.data.failureDomain;
      const episode = openEpisode(domain);
      const bootedAt = toMs(event.data.bootedAt) + (host.skewMs ?? 0);
      if (episode !== undefined && bootedAt <= toMs(episode.lastDownAt)) {
        timeline(txn, episode.incident.id, `stale ${event.type} (booted ${event.data.bootedAt}) ignored`);
        return;
      }
      domain.lastUpAt = at;
      if (episode === undefined) {
        // A server that rebooted under symptoms its clients reported went down, whether or not enough
        // of them reported in time to say so: open its episode now so that they are healed.
        const symptoms = domain.recentSymptoms.filter((symptom) => toMs(symptom.at) <= toMs(at));
        const local = domain.localHosts
          .filter((hostId) => !symptoms.some((symptom) => symptom.hostId === hostId))
          .map((hostId) => ({ hostId, at }));
        if (symptoms.length + local.length > 0) {
          openFromSymptoms(txn, domain, [...symptoms, ...local], `${event.type} under its clients' symptoms`);
        }
      }
      goUp(txn, domain, at, `${event.type} (booted ${event.data.bootedAt})`);
      return;
    }
    default:
      return;
  }
};

const applyEvent = (txn: Transaction, event: FaultlineEvent): void => {
  const host = txn.host(event.hostid);
  const seen = event.receivedat ?? event.time;
  const at = occurredAt(host, event);
  const fresh = host.lastSeq === undefined || event.seq > host.lastSeq;
  host.lastSeenAt = host.lastSeenAt === undefined ? seen : latest(host.lastSeenAt, seen);
  if (fresh) {
    host.bootId = event.bootid;
    host.lastSeq = event.seq;
  }
  refreshSlots(txn, host);
  const ownWork = event.planid !== undefined;
  let changed = false;
  switch (event.type) {
    case 'host.heartbeat': {
      host.role = event.data.role;
      host.platform = event.data.platform;
      host.capabilities = event.data.capabilities;
      host.intervalSeconds = event.data.intervalSeconds;
      if (event.receivedat !== undefined && fresh) host.skewMs = toMs(event.receivedat) - toMs(event.time);
      const digest = heartbeatDigest(event);
      if (
        digest !== host.heartbeatDigest &&
        (host.heartbeatSeq === undefined || event.seq > host.heartbeatSeq)
      ) {
        host.heartbeatDigest = digest;
        host.heartbeatSeq = event.seq;
        changed = applyHeartbeat(host, event, at);
      }
      break;
    }
    case 'mirror.degraded': {
      const previous = host.arrays[event.data.array];
      changed = applyMirrorEvent(host, event, at);
      if (changed && !ownWork) {
        for (const failureDomain of implicatedByMirror(previous, event as MirrorDegraded)) {
          onSymptom(txn, host, `array:${event.data.array}`, failureDomain, at);
        }
      }
      break;
    }
    case 'mirror.recovering':
    case 'mirror.healthy':
      changed = applyMirrorEvent(host, event, at);
      break;
    case 'path.lost':
      changed = applyPathEvent(host, event, at);
      if (changed && !ownWork) {
        onSymptom(
          txn,
          host,
          `path:${pathKey(event.data.map, event.data.path)}`,
          event.data.failureDomain,
          at,
        );
      }
      break;
    case 'path.restored': {
      changed = applyPathEvent(host, event, at);
      const domain = txn.readDomain(event.data.failureDomain);
      if (changed && !ownWork && domain.state === 'down' && openEpisode(domain) !== undefined) {
        goUp(
          txn,
          txn.domain(event.data.failureDomain),
          at,
          `${host.hostId} reports ${event.data.path} restored`,
        );
      }
      break;
    }
    case 'disk.probed': {
      const domain = txn.readDomain(event.data.failureDomain);
      if (
        !ownWork &&
        event.data.deviceState === 'running' &&
        event.data.readable &&
        domain.state === 'down' &&
        openEpisode(domain) !== undefined
      ) {
        goUp(txn, txn.domain(event.data.failureDomain), at, `${host.hostId} reads ${event.data.disk} again`);
      }
      break;
    }
    case 'command.progress':
      applyProgress(txn, host, event);
      break;
    default:
      applyServerEvent(txn, host, event, at);
  }
  if (changed) checkCritical(txn, host);
  reconcileHost(txn, host, event.type);
};

const applyOperator = (txn: Transaction, command: OperatorCommand): void => {
  switch (command.type) {
    case 'operator.pause': {
      const control = txn.writeControl();
      control.paused = true;
      control.pausedAt = command.at;
      return;
    }
    case 'operator.resume': {
      if (command.failureDomain === undefined) {
        const control = txn.writeControl();
        control.paused = false;
        delete control.pausedAt;
        for (const domain of txn.availableDomains()) {
          if (openEpisode(domain) !== undefined) txn.requestWake(domain.failureDomain);
        }
        return;
      }
      const domain = txn.domain(command.failureDomain);
      const episode = openEpisode(domain);
      if (episode?.halted === undefined) return;
      delete episode.halted;
      episode.flaps = [];
      episode.incident.status = domain.state === 'up' ? 'remediating' : 'awaiting-recovery';
      txn.touch(episode.incident);
      timeline(txn, episode.incident.id, `resumed by an operator (${command.id})`);
      txn.requestWake(domain.failureDomain);
      return;
    }
    case 'operator.approve': {
      const domain = txn.domain(command.failureDomain);
      const episode = openEpisode(domain);
      if (episode === undefined || episode.incident.id !== command.incidentId) return;
      episode.approvedWave = Math.max(episode.approvedWave, episode.canaryDone ? episode.wave : 0);
      if (command.canaryHost !== undefined && episode.dispatched === 0)
        episode.canaryHost = command.canaryHost;
      timeline(txn, episode.incident.id, `wave ${episode.approvedWave} approved (${command.id})`);
      txn.requestWake(domain.failureDomain);
      return;
    }
    case 'operator.resolve': {
      if (command.failureDomain !== undefined) {
        const domain = txn.domain(command.failureDomain);
        if (domain.episode?.incident.id === command.incidentId) {
          resolveDomainEpisode(txn, domain, `resolved by an operator (${command.id})`);
        }
      }
      if (command.hostId !== undefined) {
        const host = txn.host(command.hostId);
        for (const [resource, fault] of Object.entries(host.localFaults)) {
          if (fault.incident?.id !== command.incidentId) continue;
          resolveIncident(txn, { ...fault.incident }, `resolved by an operator (${command.id})`);
          delete host.localFaults[resource];
        }
        for (const [resource, incident] of Object.entries(host.doubleFaults)) {
          if (incident.id !== command.incidentId) continue;
          resolveIncident(txn, { ...incident }, `resolved by an operator (${command.id})`);
          delete host.doubleFaults[resource];
        }
      }
      return;
    }
    case 'operator.maintenance': {
      if (command.target === 'host') txn.host(command.name).maintenance = command.on;
      else {
        txn.domain(command.name).maintenance = command.on;
        if (!command.on) txn.requestWake(command.name);
      }
      return;
    }
  }
};

const applyInternal = (txn: Transaction, input: InternalInput): void => {
  const host = txn.host(input.hostId);
  if (input.type === 'internal.join') {
    const domain = txn.domain(input.failureDomain);
    if (domain.episode?.incident.id === input.incidentId) join(txn, host, domain, input.at);
    return;
  }
  const plan = txn.own(host.plans, input.planId);
  if (
    plan === undefined ||
    plan.status === 'succeeded' ||
    plan.status === 'failed' ||
    plan.status === 'refused'
  )
    return;
  plan.status = 'revoked';
  const record = txn.own(host.episodes, plan.incidentId);
  if (record?.status !== 'planned' || record.planId !== plan.id) return;
  const episode = openEpisode(txn.domain(plan.failureDomain));
  if (input.requeue) {
    record.status = 'waiting';
    if (episode?.incident.id === plan.incidentId) episode.waiting += 1;
  } else {
    record.status = 'failed';
    record.reason = 'its plan slot expired';
  }
};

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

const onHostWake = (txn: Transaction, hostId: string): void => {
  const host = txn.host(hostId);
  for (const [resource, fault] of Object.entries(host.localFaults).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (fault.incident !== undefined) continue;
    if (toMs(fault.since) + txn.config.holdDownSeconds * 1000 > toMs(txn.now)) continue;
    const domain = txn.domain(fault.failureDomain);
    reopenIfDuring(txn, domain, fault.since);
    const episode = openEpisode(domain);
    if (episode !== undefined && belongsToEpisode(episode, fault.since)) {
      join(txn, host, domain, fault.since);
      delete host.localFaults[resource];
      continue;
    }
    const critical =
      resource.startsWith('array:') && host.doubleFaults[resource.slice('array:'.length)] !== undefined;
    if (isResourceHealthy(host, resource) || critical) {
      // Healthy again, or already paged as a double fault: no second page for the same array.
      delete host.localFaults[resource];
      continue;
    }
    const owned = txn.own(host.localFaults, resource);
    if (owned !== undefined)
      owned.incident = openLocalIncident(txn, host, resource, fault.failureDomain, fault.since);
    if (!domain.localHosts.includes(host.hostId) && domain.localHosts.length < LOCAL_HOSTS_CAP) {
      domain.localHosts = [...domain.localHosts, host.hostId].sort();
    }
  }
  if (host.serves !== undefined && host.lastSeenAt !== undefined) {
    const interval = host.intervalSeconds ?? txn.config.defaultHeartbeatSeconds;
    const silentSince = toMs(host.lastSeenAt) + txn.config.silentHeartbeats * interval * 1000;
    if (silentSince <= toMs(txn.now) && txn.isDomainUp(host.serves)) {
      goDown(txn, txn.domain(host.serves), host.lastSeenAt, `its server ${host.hostId} went silent`);
    }
  }
};

const onDomainWake = (txn: Transaction, failureDomain: string): void => {
  const domain = txn.domain(failureDomain);
  const episode = openEpisode(domain);
  if (episode === undefined) return;
  if (domain.state === 'down') {
    if (
      toMs(episode.lastDownAt) + txn.config.escalateDownSeconds * 1000 <= toMs(txn.now) &&
      !domain.maintenance
    ) {
      const minutes = Math.round((toMs(txn.now) - toMs(episode.lastDownAt)) / 60_000);
      escalate(txn, episode.incident, `${failureDomain} has been down for ${minutes} minutes`);
    }
    return;
  }
  dispatch(txn, domain);
  maybeResolve(txn, domain);
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
    if (domain.wakeAt !== undefined && toMs(domain.wakeAt) <= toMs(now))
      onDomainWake(txn, domain.failureDomain);
  }
  return finish(txn);
};
