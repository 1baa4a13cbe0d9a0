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
} from './model.ts';

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
  const domain: DomainSlice = {
    ...base,
    recentSymptoms: base.recentSymptoms.map((symptom) => ({ ...symptom })),
    localHosts: [...base.localHosts],
  };
  const episode = base.episode;
  if (episode !== undefined) {
    domain.episode = {
      ...episode,
      incident: { ...episode.incident },
      slots: Object.fromEntries(Object.entries(episode.slots).map(([hostId, slot]) => [hostId, { ...slot }])),
      flaps: [...episode.flaps],
      ...(episode.halted === undefined ? {} : { halted: { ...episode.halted } }),
    };
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
  private readonly wakeNow = new Set<string>();
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
      host =
        base === undefined
          ? freshHost(hostId)
          : {
              ...base,
              arrays: { ...base.arrays },
              paths: { ...base.paths },
              disks: { ...base.disks },
              episodes: { ...base.episodes },
              plans: { ...base.plans },
              localFaults: { ...base.localFaults },
              doubleFaults: { ...base.doubleFaults },
            };
      this.writtenHosts.set(hostId, host);
    }
    return host;
  }

  private readonly owned = new WeakSet<object>();

  /** An entry of a written host's map, copied once so this decision may change it. */
  own<T extends object>(map: Record<string, T>, key: string): T | undefined {
    const entry = map[key];
    if (entry === undefined || this.owned.has(entry)) return entry;
    const copy = { ...entry };
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
    this.wakeNow.add(failureDomain);
  }

  wakeRequests(): string[] {
    return [...this.wakeNow].sort();
  }

  wantsWake(failureDomain: string): boolean {
    return this.wakeNow.has(failureDomain);
  }

  result(): Decision {
    const slices: ChangedSlices = {
      domains: Object.fromEntries(this.writtenDomains),
      hosts: Object.fromEntries(this.writtenHosts),
    };
    if (this.writtenControl !== undefined) slices.control = this.writtenControl;
    const incidents = [...this.touchedIncidents.values()]
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((incident): Effect => ({ type: 'incident', incident: { ...incident } }));
    return { slices, effects: [...this.effects, ...incidents] };
  }
}
