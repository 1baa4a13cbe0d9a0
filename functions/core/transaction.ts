import type { CoreConfig } from './config.ts';
import { freshDomain, freshHost } from './host.ts';
import type {
  ChangedSlices,
  ControlSlice,
  Decision,
  DomainSlice,
  Effect,
  HostSlice,
  Incident,
  InternalInput,
  Slices,
  WaveSlot,
} from './model.ts';
import { emptyRecord, putEntry, shallowCopy, sortStrings } from './order.ts';

/** A deep copy of plain JSON data (slices hold nothing else); much cheaper than structuredClone here. */
export const cloneData = <T>(value: T): T => {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(cloneData) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = cloneData((value as Record<string, unknown>)[key]);
  return copy as T;
};

/**
 * A domain slice to write: a copy of every part a decision changes in place (its episode with
 * the incident, slots, flaps and halt), at a fraction of a deep copy's cost on the hot path. The
 * last resolved episode is only ever replaced or reopened whole, so it is copied deeply.
 */
const cloneDomain = (base: DomainSlice): DomainSlice => {
  // Assigning over a spread keeps the key order a spread with overrides gives: the same slice, byte for byte.
  const domain = shallowCopy(base);
  const symptoms = base.recentSymptoms;
  domain.recentSymptoms = symptoms.length === 0 ? [] : symptoms.map((symptom) => ({ ...symptom }));
  domain.localHosts = base.localHosts.slice();
  const episode = base.episode;
  if (episode !== undefined) {
    const copy = shallowCopy(episode);
    copy.incident = shallowCopy(episode.incident);
    const slots = shallowCopy(episode.slots);
    for (const hostId of Object.keys(slots)) slots[hostId] = shallowCopy(slots[hostId] as WaveSlot);
    copy.slots = slots;
    copy.flaps = episode.flaps.slice();
    if (episode.halted !== undefined) copy.halted = { ...episode.halted };
    domain.episode = copy;
  }
  if (base.lastResolved !== undefined) domain.lastResolved = cloneData(base.lastResolved);
  return domain;
};

/**
 * One decision in the making: slices are copied on first write, so the slices passed in are never
 * changed and the result holds exactly the slices that were written.
 */
export class Transaction {
  private readonly writtenHosts = new Map<string, HostSlice>();
  private readonly writtenDomains = new Map<string, DomainSlice>();
  private writtenControl: ControlSlice | undefined;
  private readonly touchedIncidents = new Map<string, Incident>();
  /** Made on first use: most decisions ask no wake and own no entry. */
  private wakeNow: Set<string> | undefined;
  private fired: Set<string> | undefined;
  readonly effects: Effect[] = [];

  constructor(
    readonly base: Slices,
    readonly config: CoreConfig,
    readonly now: string,
  ) {}

  get control(): ControlSlice {
    return this.writtenControl ?? this.base.control;
  }

  writeControl(): ControlSlice {
    this.writtenControl ??= { ...this.base.control };
    return this.writtenControl;
  }

  readHost(hostId: string): HostSlice {
    return this.writtenHosts.get(hostId) ?? this.base.hosts[hostId] ?? freshHost(hostId);
  }

  /**
   * The host slice to write. Its maps are copied, their entries shared with the slice passed in:
   * an entry is replaced, or taken with `own` before it is changed, never changed where it lies.
   */
  host(hostId: string): HostSlice {
    let host = this.writtenHosts.get(hostId);
    if (host === undefined) {
      const base = this.base.hosts[hostId];
      if (base === undefined) host = freshHost(hostId);
      else {
        // The spread with overrides, assigned in its order: the same keys in the same order.
        host = shallowCopy(base);
        host.arrays = shallowCopy(base.arrays);
        host.paths = shallowCopy(base.paths);
        host.disks = shallowCopy(base.disks);
        host.episodes = shallowCopy(base.episodes);
        host.plans = shallowCopy(base.plans);
        host.localFaults = shallowCopy(base.localFaults);
        host.doubleFaults = shallowCopy(base.doubleFaults);
      }
      this.writtenHosts.set(hostId, host);
    }
    return host;
  }

  private owned: Set<object> | undefined;

  /** An entry of a written host's map, copied once so this decision may change it. */
  own<T extends object>(map: Record<string, T>, key: string): T | undefined {
    const entry = map[key];
    if (entry === undefined || this.owned?.has(entry) === true) return entry;
    const copy = shallowCopy(entry);
    this.owned ??= new Set();
    this.owned.add(copy);
    map[key] = copy;
    return copy;
  }

  readDomain(failureDomain: string): DomainSlice {
    return (
      this.writtenDomains.get(failureDomain) ?? this.base.domains[failureDomain] ?? freshDomain(failureDomain)
    );
  }

  domain(failureDomain: string): DomainSlice {
    let domain = this.writtenDomains.get(failureDomain);
    if (domain === undefined) {
      const base = this.base.domains[failureDomain];
      domain = base === undefined ? freshDomain(failureDomain) : cloneDomain(base);
      this.writtenDomains.set(failureDomain, domain);
    }
    return domain;
  }

  isDomainUp = (failureDomain: string): boolean => this.readDomain(failureDomain).state === 'up';

  /** Every host slice available to this decision (loaded or written), by host id. */
  availableHosts(): HostSlice[] {
    const ids = new Set([...Object.keys(this.base.hosts), ...this.writtenHosts.keys()]);
    return [...ids].sort().map((id) => this.readHost(id));
  }

  availableDomains(): DomainSlice[] {
    const ids = new Set([...Object.keys(this.base.domains), ...this.writtenDomains.keys()]);
    return [...ids].sort().map((id) => this.readDomain(id));
  }

  writtenHostList(): HostSlice[] {
    return [...this.writtenHosts.values()];
  }

  writtenDomainList(): DomainSlice[] {
    return [...this.writtenDomains.values()];
  }

  touch(incident: Incident): void {
    this.touchedIncidents.set(incident.id, incident);
  }

  emit(effect: Effect): void {
    this.effects.push(effect);
  }

  followUp(input: InternalInput): void {
    this.effects.push({ type: 'follow-up', input });
  }

  requestWake(failureDomain: string): void {
    this.wakeNow ??= new Set();
    this.wakeNow.add(failureDomain);
  }

  wakeRequests(): string[] {
    return this.wakeNow === undefined ? [] : sortStrings([...this.wakeNow]);
  }

  wantsWake(failureDomain: string): boolean {
    return this.wakeNow?.has(failureDomain) === true;
  }

  /** This decision is the domain's timer firing (`tick`): its due wake is used up here. */
  firesWake(failureDomain: string): void {
    this.fired ??= new Set();
    this.fired.add(failureDomain);
  }

  /** Whether this decision fired the domain's timer. */
  firedWake(failureDomain: string): boolean {
    return this.fired?.has(failureDomain) === true;
  }

  result(): Decision {
    const domains: ChangedSlices['domains'] = {};
    for (const [failureDomain, domain] of this.writtenDomains) putEntry(domains, failureDomain, domain);
    const hosts: ChangedSlices['hosts'] = emptyRecord();
    for (const [hostId, host] of this.writtenHosts) putEntry(hosts, hostId, host);
    const slices: ChangedSlices = { domains, hosts };
    if (this.writtenControl !== undefined) slices.control = this.writtenControl;
    const effects = this.effects.slice();
    const incidents =
      this.touchedIncidents.size < 2
        ? [...this.touchedIncidents.values()]
        : [...this.touchedIncidents.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const incident of incidents) effects.push({ type: 'incident', incident: shallowCopy(incident) });
    return { slices, effects };
  }
}
