/**
 * The safety rules of DESIGN §4–§5 checked on a running world, plan by plan at the moment each is
 * issued and again while it can still be fetched, against what the storm's inputs say rather than the
 * core's own reading of them: the latest report of each array and path by `seq` (§5.8), and whether a
 * domain is down, which the monitor derives itself (down from its server's `domain.going-down`; up
 * again from its `ipl.completed` or `domain.rebooted`, a heartbeat listing it in `serves` from another
 * boot, or a client's own `path.restored` or readable `disk.probed`, each received after it went
 * down). Only when a domain came up, for its stability period, is read from the world's episode:
 * - every plan starts with `disk.probe` (§4);
 * - a plan only for a domain that is up and has stayed up for the stability period (§5.5);
 * - no plan for a host holding a double fault: an array with no in-sync member, or whose in-sync
 *   members all sit on down domains, a component in Last Erred, a map with no active path (§5.4);
 * - one plan in flight per host; the canary alone and first (no wave before a canary's host is
 *   healthy); at most `maxPlansInFlight` in flight per domain (§5.5);
 * - walking each branch's steps over the host's reported arrays: never fail an in-sync member
 *   without an in-sync partner on another domain that is up, never remove an in-sync member, never
 *   delete a disk (`scsi.delete`) that still holds an in-sync member, `md.add` onto a deleted disk
 *   only after its `disk.verify`, never leave an array with no in-sync member, `svm.metareplace` only
 *   of a Maintenance component while another is Okay; `md.zero-superblock` never of an in-sync member
 *   (the last one least of all), only of a member the branch removed, on a disk the branch verified,
 *   while an in-sync member on another up domain remains, and right before the `md.add` of that
 *   member; `svm.metadb-restore` only after an `svm.wait-sync`, of a slice on a disk the branch
 *   repaired; `scsi.online` only of a leg reported `offline` (§4);
 * - while a plan is still fetchable (issued, not started, not revoked), a domain going down that
 *   leaves its host holding a double fault, or that breaks its step walk, is a violation unless the
 *   core revoked the plan in the same delivery (§5.4: no plan for a host that holds a double fault).
 * A plan leaves flight when its host reports healthy on the plan's domain, when it fails or is
 * refused, when the core revokes it, or when its incident resolves.
 */
import type { MemoryWorld } from '../../cli/replay/memory-world.ts';
import type { FaultlineEvent, Member, PlanStep, UnsignedPlan } from '../../events/index.ts';
import { type CoreConfig, type CoreInput, toMs } from '../../functions/core/index.ts';
import { diskOfDevice } from '../../probes/block-device.ts';

/** A broken rule, with the plan and host that broke it. */
export type Violation = { plan: string; host: string; rule: string };

type ArrayReported = { seq: number; members: Member[]; healthy: boolean };
type PathReported = { seq: number; map: string; failureDomain: string; state: string; activePaths?: number };
type Flight = { plan: UnsignedPlan; failureDomain: string; started: boolean };
/** A domain's state by the storm's inputs: down since its announcement, up since an up report after it. */
type DomainSeen = { down: boolean; downAt: number; serverBoots: Map<string, string> };

const HEALTHY_PATH = new Set(['active', 'ghost']);
/** The agent's code for a plan id it already ran: a duplicate delivery, not a failure (§4). */
const ALREADY_RUN = 'already-run';

/** Follows one run's deliveries and plans; every broken rule lands in `violations`. */
export class SafetyMonitor {
  readonly violations: Violation[] = [];
  private readonly arrays = new Map<string, Map<string, ArrayReported>>();
  /** Every array a host ever reported with a member on a domain, by `host\0domain`. */
  private readonly arraysOn = new Map<string, Set<string>>();
  private readonly paths = new Map<string, Map<string, PathReported>>();
  private readonly inFlight = new Map<string, Flight>();
  private readonly canaryDone = new Set<string>();
  private readonly domainsSeen = new Map<string, DomainSeen>();
  /** Each host's latest boot id, by the inputs. */
  private readonly boots = new Map<string, string>();

  constructor(private readonly config: CoreConfig) {}

  /** What a delivered input says about its host's storage and its plans. */
  delivered(input: CoreInput, world: MemoryWorld): void {
    if (!('hostid' in input)) return;
    this.record(input);
    const wentDown = this.recordDomains(input);
    const planId = input.type === 'command.progress' ? input.data.planId : undefined;
    if (input.type === 'command.progress' && planId !== undefined) {
      const flight = this.inFlight.get(planId);
      const { outcome, code, step, branch } = input.data;
      if (flight !== undefined && outcome === 'started') flight.started = true;
      if (flight !== undefined && (outcome === 'failed' || (outcome === 'refused' && code !== ALREADY_RUN))) {
        this.inFlight.delete(planId);
      } else if (flight !== undefined && outcome === 'succeeded' && flight.plan.mode === 'dry-run') {
        const steps = branch === 'fastPath' ? (flight.plan.fastPath ?? []) : flight.plan.steps;
        if (step === steps.length - 1) this.land(planId, flight);
      }
    }
    for (const [planId, flight] of this.inFlight) {
      if (flight.plan.hostId === input.hostid && this.healthyOn(input.hostid, flight.failureDomain))
        this.land(planId, flight);
    }
    this.dropEnded(world);
    if (wentDown) this.recheckFetchable();
  }

  /** Whether a domain is up by the storm's inputs (see the file's comment). */
  readonly isUp = (failureDomain: string): boolean => this.domainsSeen.get(failureDomain)?.down !== true;

  /**
   * What an input says of its domains: an announcement takes one down; a server back, a heartbeat
   * serving it from another boot than the one that announced, or a client reading it again brings it
   * up. Returns whether a domain went down.
   */
  private recordDomains(event: FaultlineEvent): boolean {
    const seen = (failureDomain: string): DomainSeen => {
      const known = this.domainsSeen.get(failureDomain) ?? { down: false, downAt: 0, serverBoots: new Map() };
      this.domainsSeen.set(failureDomain, known);
      return known;
    };
    const received = toMs(event.receivedat ?? event.time);
    const up = (failureDomain: string) => {
      const domain = seen(failureDomain);
      if (domain.down && received > domain.downAt) domain.down = false;
    };
    const bootBefore = this.boots.get(event.hostid);
    this.boots.set(event.hostid, event.bootid);
    switch (event.type) {
      case 'domain.going-down': {
        const domain = seen(event.data.failureDomain);
        const wasDown = domain.down;
        domain.down = true;
        domain.downAt = received;
        domain.serverBoots.set(event.hostid, event.bootid);
        return !wasDown;
      }
      case 'ipl.completed':
      case 'domain.rebooted':
        up(event.data.failureDomain);
        return false;
      case 'host.heartbeat':
        for (const failureDomain of event.data.serves ?? []) {
          const announcedIn = seen(failureDomain).serverBoots.get(event.hostid) ?? bootBefore;
          if (announcedIn !== undefined && announcedIn !== event.bootid) up(failureDomain);
        }
        return false;
      case 'path.restored':
        if (event.planid === undefined) up(event.data.failureDomain);
        return false;
      case 'disk.probed':
        if (event.planid === undefined && event.data.deviceState === 'running' && event.data.readable)
          up(event.data.failureDomain);
        return false;
      default:
        return false;
    }
  }

  /** A domain went down: a plan still fetchable whose host now holds a double fault must be revoked. */
  private recheckFetchable(): void {
    for (const flight of this.inFlight.values()) {
      if (flight.started) continue;
      const { plan } = flight;
      const fault = this.doubleFault(plan.hostId, this.isUp);
      const rules = [plan.steps, plan.fastPath ?? []].flatMap((branch) =>
        this.walk(plan.hostId, branch, this.isUp),
      );
      if (fault === undefined && rules.length === 0) continue;
      this.violations.push({
        plan: plan.id,
        host: plan.hostId,
        rule: `a plan still fetchable when its host turns critical is revoked (${fault ?? rules[0]})`,
      });
    }
  }

  /** Checks a plan the world just issued, then counts it in flight. */
  issued(plan: UnsignedPlan, world: MemoryWorld): void {
    const violate = (rule: string) => this.violations.push({ plan: plan.id, host: plan.hostId, rule });
    const probe = plan.steps[0];
    if (probe?.action !== 'disk.probe') violate('a plan starts with disk.probe');
    const failureDomain =
      world.hosts.get(plan.hostId)?.plans[plan.id]?.failureDomain ??
      (probe?.action === 'disk.probe' ? probe.failureDomain : '');
    const isUp = this.isUp;
    const domain = world.domains.get(failureDomain);
    const upAt = domain?.episode?.upAt;
    if (!isUp(failureDomain) || domain?.state !== 'up' || upAt === undefined)
      violate('a plan only for a domain that is up');
    else if (toMs(plan.issuedAt) < toMs(upAt) + this.config.stabilitySeconds * 1000)
      violate('a plan only after the domain stayed up for the stability period');
    const fault = this.doubleFault(plan.hostId, isUp);
    if (fault !== undefined) violate(`no plan for a host holding a double fault (${fault})`);
    this.dropEnded(world);
    const flights = [...this.inFlight.values()];
    if (flights.some((flight) => flight.plan.hostId === plan.hostId)) violate('one plan in flight per host');
    const sameDomain = flights.filter((flight) => flight.failureDomain === failureDomain);
    if (plan.wave === 0 && sameDomain.length > 0) violate('the canary goes alone');
    if (plan.wave > 0 && !this.canaryDone.has(plan.incidentId))
      violate('no wave before the canary is healthy');
    if (sameDomain.length + 1 > this.config.maxPlansInFlight)
      violate(`at most ${this.config.maxPlansInFlight} plans in flight per domain`);
    for (const branch of [plan.steps, plan.fastPath ?? []]) {
      for (const rule of this.walk(plan.hostId, branch, isUp)) violate(rule);
    }
    this.inFlight.set(plan.id, { plan, failureDomain, started: false });
  }

  private record(event: FaultlineEvent): void {
    const host = event.hostid;
    const arrays = this.arrays.get(host) ?? new Map<string, ArrayReported>();
    this.arrays.set(host, arrays);
    const paths = this.paths.get(host) ?? new Map<string, PathReported>();
    this.paths.set(host, paths);
    const array = (name: string, members: Member[], healthy: boolean) => {
      if ((arrays.get(name)?.seq ?? -1) >= event.seq) return;
      arrays.set(name, { seq: event.seq, members, healthy });
      for (const member of members) {
        const key = `${host}\u0000${member.failureDomain}`;
        this.arraysOn.set(key, (this.arraysOn.get(key) ?? new Set()).add(name));
      }
    };
    const path = (key: string, reported: Omit<PathReported, 'seq'>) => {
      if ((paths.get(key)?.seq ?? -1) >= event.seq) return;
      paths.set(key, { seq: event.seq, ...reported });
    };
    switch (event.type) {
      case 'mirror.degraded':
      case 'mirror.recovering':
        array(event.data.array, event.data.members, false);
        return;
      case 'mirror.healthy':
        array(event.data.array, event.data.members, true);
        return;
      case 'host.heartbeat':
        for (const report of event.data.arrays) {
          const allInSync = report.members.every(
            (member) => member.state === 'in-sync' || member.state === 'spare',
          );
          array(
            report.array,
            report.members,
            allInSync && (report.state === 'clean' || report.state === 'checking'),
          );
        }
        for (const report of event.data.paths) {
          path(`${report.map}/${report.path}`, {
            map: report.map,
            failureDomain: report.failureDomain,
            state: report.state,
          });
        }
        return;
      case 'path.lost':
      case 'path.restored':
        path(`${event.data.map}/${event.data.path}`, {
          map: event.data.map,
          failureDomain: event.data.failureDomain,
          state: event.data.state,
          activePaths: event.data.activePaths,
        });
        return;
      default:
        return;
    }
  }

  private healthyOn(hostId: string, failureDomain: string): boolean {
    const arrays = this.arrays.get(hostId);
    for (const name of this.arraysOn.get(`${hostId}\u0000${failureDomain}`) ?? []) {
      if (arrays?.get(name)?.healthy !== true) return false;
    }
    for (const path of this.paths.get(hostId)?.values() ?? []) {
      if (path.failureDomain === failureDomain && !HEALTHY_PATH.has(path.state)) return false;
    }
    return true;
  }

  private land(planId: string, flight: Flight): void {
    this.inFlight.delete(planId);
    if (flight.plan.wave === 0) this.canaryDone.add(flight.plan.incidentId);
  }

  /** Plans the core revoked (a flap, an expired slot) or whose incident resolved leave flight. */
  private dropEnded(world: MemoryWorld): void {
    if (this.inFlight.size === 0) return;
    const revoked = new Set(world.revoked.map((entry) => entry.planId));
    for (const [planId, flight] of this.inFlight) {
      const status = world.hosts.get(flight.plan.hostId)?.plans[planId]?.status;
      if (
        revoked.has(planId) ||
        status === 'revoked' ||
        world.incidents.get(flight.plan.incidentId)?.status === 'resolved'
      )
        this.inFlight.delete(planId);
    }
  }

  private doubleFault(hostId: string, isUp: (domain: string) => boolean): string | undefined {
    for (const [name, array] of this.arrays.get(hostId) ?? []) {
      if (array.members.some((member) => member.state === 'last-erred'))
        return `${name} has a component in Last Erred`;
      const inSync = array.members.filter((member) => member.state === 'in-sync');
      if (!array.healthy && inSync.length === 0) return `${name} has no in-sync member`;
      if (inSync.every((member) => !isUp(member.failureDomain)))
        return `${name}'s in-sync members all on down domains`;
    }
    const active = new Map<string, { seq: number; activePaths?: number }>();
    for (const path of this.paths.get(hostId)?.values() ?? []) {
      if (path.activePaths !== undefined && (active.get(path.map)?.seq ?? -1) < path.seq)
        active.set(path.map, { seq: path.seq, activePaths: path.activePaths });
    }
    for (const [map, latest] of active) if (latest.activePaths === 0) return `map ${map} has no active path`;
    return undefined;
  }

  /** What an `md.zero-superblock` breaks at its place in a branch (see the file's comment). */
  private zeroRules(
    step: Extract<PlanStep, { action: 'md.zero-superblock' }>,
    next: PlanStep | undefined,
    arrays: ReadonlyMap<string, Member[]>,
    reported: ReadonlyMap<string, Member>,
    branch: { removed: ReadonlySet<string>; verified: ReadonlySet<string> },
    isUp: (domain: string) => boolean,
  ): string[] {
    const rules: string[] = [];
    const key = `${step.array}\u0000${step.member}`;
    const members = arrays.get(step.array) ?? [];
    if (members.find((member) => member.device === step.member)?.state === 'in-sync')
      rules.push('never zero the superblock of an in-sync member');
    if (!branch.removed.has(key)) rules.push('md.zero-superblock only of a member the plan removed');
    const disk = reported.get(key)?.disk ?? diskOfDevice(step.member) ?? step.member;
    if (!branch.verified.has(disk)) rules.push('md.zero-superblock only on a disk the plan verified');
    const domain = reported.get(key)?.failureDomain;
    const partner = members.some(
      (member) =>
        member.device !== step.member &&
        member.state === 'in-sync' &&
        member.failureDomain !== domain &&
        isUp(member.failureDomain),
    );
    if (!partner) rules.push('md.zero-superblock only while an in-sync member on another up domain remains');
    if (next?.action !== 'md.add' || next.array !== step.array || next.member !== step.member)
      rules.push('md.zero-superblock right before the md.add of its member');
    return rules;
  }

  /** Walks one branch's steps over a copy of the host's reported arrays. */
  private walk(hostId: string, steps: readonly PlanStep[], isUp: (domain: string) => boolean): string[] {
    const rules: string[] = [];
    const arrays = new Map(
      [...(this.arrays.get(hostId) ?? [])].map(([name, array]) => [
        name,
        array.members.map((member) => ({ ...member })),
      ]),
    );
    // The disk each SCSI address names in this plan (its probe and verify steps carry both).
    const diskAt = new Map<string, string>();
    for (const step of steps) {
      if ((step.action === 'disk.probe' || step.action === 'disk.verify') && step.hctl !== undefined)
        diskAt.set(step.hctl, step.disk);
    }
    const deleted = new Set<string>();
    // Each reported member as it was before the branch, by array and device: what a removed member was.
    const reported = new Map<string, Member>();
    for (const [name, members] of arrays)
      for (const member of members) reported.set(`${name}\u0000${member.device}`, { ...member });
    const removed = new Set<string>();
    const verified = new Set<string>();
    const repairedDisks = new Set<string>();
    let waitedForSvm = false;
    for (const [index, step] of steps.entries()) {
      if (step.action === 'md.zero-superblock') {
        rules.push(...this.zeroRules(step, steps[index + 1], arrays, reported, { removed, verified }, isUp));
        continue;
      }
      if (step.action === 'svm.metadb-restore') {
        if (!waitedForSvm) rules.push('svm.metadb-restore only after svm.wait-sync');
        if (!repairedDisks.has(diskOfDevice(step.slice) ?? step.slice))
          rules.push('svm.metadb-restore only of a slice on a disk the plan repaired');
        continue;
      }
      if (step.action === 'scsi.online') {
        const legs = [...(this.paths.get(hostId)?.entries() ?? [])].filter(([key]) =>
          key.endsWith(`/${step.disk}`),
        );
        if (legs.length === 0 || legs.some(([, path]) => path.state !== 'offline'))
          rules.push('scsi.online only of a leg reported offline');
        continue;
      }
      if (step.action === 'svm.wait-sync') waitedForSvm = true;
      if (step.action === 'svm.metareplace')
        repairedDisks.add(diskOfDevice(step.component) ?? step.component);
      if (step.action === 'md.remove') removed.add(`${step.array}\u0000${step.member}`);
      if (step.action === 'disk.verify') verified.add(step.disk);
      if (step.action === 'scsi.delete') {
        const disk = diskAt.get(step.hctl);
        if (disk === undefined) continue;
        for (const members of arrays.values()) {
          const onDisk = members.filter((member) => member.disk === disk);
          if (onDisk.some((member) => member.state === 'in-sync'))
            rules.push('never delete a disk that holds an in-sync member');
          for (const member of onDisk) members.splice(members.indexOf(member), 1);
          if (onDisk.length > 0 && !members.some((candidate) => candidate.state === 'in-sync'))
            rules.push('never leave an array with no in-sync member');
        }
        deleted.add(disk);
        continue;
      }
      if (step.action === 'disk.verify') {
        deleted.delete(step.disk);
        continue;
      }
      if (step.action === 'md.add') {
        const onDeleted = [...deleted].some((disk) => step.member.startsWith(disk));
        if (onDeleted) rules.push('md.add onto a deleted disk only after its disk.verify');
        continue;
      }
      const name = 'array' in step ? step.array : 'mirror' in step ? step.mirror : undefined;
      const members = name === undefined ? undefined : arrays.get(name);
      if (members === undefined) continue;
      const device = 'member' in step ? step.member : 'component' in step ? step.component : undefined;
      const member = members.find((candidate) => candidate.device === device);
      if (step.action === 'md.fail' && member?.state === 'in-sync') {
        const partner = members.some(
          (other) =>
            other !== member &&
            other.state === 'in-sync' &&
            other.failureDomain !== member.failureDomain &&
            isUp(other.failureDomain),
        );
        if (!partner)
          rules.push('never fail an in-sync member without an in-sync partner on another up domain');
        member.state = 'faulty';
      }
      if (step.action === 'md.remove' && member !== undefined) {
        if (member.state === 'in-sync') rules.push('never remove an in-sync member');
        members.splice(members.indexOf(member), 1);
      }
      if (step.action === 'svm.metareplace') {
        const other = members.some((candidate) => candidate !== member && candidate.state === 'in-sync');
        if (member?.state !== 'maintenance' || !other)
          rules.push('svm.metareplace only of a Maintenance component while another is Okay');
      }
      if (!members.some((candidate) => candidate.state === 'in-sync'))
        rules.push('never leave an array with no in-sync member');
    }
    return rules;
  }
}
