// AIX LVM mirrors in the core (DESIGN §2 "AIX clients are observed ... and paged for; their
// runbooks come later"): an lvm array that lost a copy is paged, never planned, never called healthy.
import { describe, expect, it } from 'vitest';
import type { FaultlineEvent, Member, PathReport } from '../../../events/index.ts';
import { criticalReason } from '../../../functions/core/host.ts';
import { DEFAULT_CORE_CONFIG } from '../../../functions/core/index.ts';
import type { ArrayRecord, HostSlice } from '../../../functions/core/model.ts';
import { planLvm } from '../../../functions/core/planners/lvm.ts';
import { planFor } from '../../../functions/core/planners.ts';
import { AixClient } from '../../helpers/core-aix.ts';
import { at, HostingPartition, random, VscsiClient, vscsi, worldWith } from '../../helpers/core-fleet.ts';

const VIOS1 = vscsi('vios1');
const VIOS2 = vscsi('vios2');
const NO_RUNBOOK = 'no runbook for AIX LVM mirrors yet';

const sliceAfter = (hostId: string, ...events: FaultlineEvent[]): HostSlice => {
  const { world, feed } = worldWith();
  feed(...events);
  const host = world.hosts.get(hostId);
  if (host === undefined) throw new Error(`no slice for ${hostId}`);
  return host;
};

const planOn = (host: HostSlice, failureDomain = VIOS2) =>
  planFor({ host, failureDomain, config: DEFAULT_CORE_CONFIG, isDomainUp: () => true, downAt: at(100) });

describe('planFor on an AIX client (lvm)', () => {
  it('refuses a stale copy on the returned domain, naming the volumes and disk, where no planner used to claim it (healthy)', () => {
    const aix = new AixClient('aixdb01');
    const host = sliceAfter(aix.hostId, aix.heartbeat(at(10)), aix.heartbeat(at(130), { stale: true }));
    expect(host.arrays.hd4?.health).toBe('degraded');
    expect(planOn(host)).toEqual({
      kind: 'refuse',
      reason: `${NO_RUNBOOK}: hd4 has stale partitions on hdisk1 (${VIOS2}); hd9var has stale partitions on hdisk1 (${VIOS2}); a person runs varyonvg and syncvg once the disks are back`,
    });
  });

  it('claims a stale logical volume before a failed path through the same domain gets a reinstate', () => {
    const aix = new AixClient('aixdb02', ['hd4']);
    const path: PathReport = {
      map: 'hdisk2',
      wwid: '00f6db0a8d2e4c19',
      path: 'hdisk2',
      hctl: '1:1:1:0',
      failureDomain: VIOS2,
      state: 'failed',
    };
    const host = sliceAfter(aix.hostId, aix.heartbeat(at(130), { stale: true, paths: [path] }));
    const outcome = planOn(host);
    expect(outcome.kind).toBe('refuse');
    expect(outcome.kind === 'refuse' && outcome.reason).toContain(`${NO_RUNBOOK}: hd4`);
  });

  it('says when lsvg cannot tell which copy is stale: every disk back, the volume still stale', () => {
    const aix = new AixClient('aixdb03', ['hd9var']);
    const host = sliceAfter(aix.hostId, aix.heartbeat(at(130), { stale: true, hdisk1: 'in-sync' }));
    expect(planOn(host)).toEqual({
      kind: 'refuse',
      reason: `${NO_RUNBOOK}: hd9var has stale partitions (lsvg does not say on which copy); a person runs varyonvg and syncvg once the disks are back`,
    });
  });

  it('names a copy that vanished from the report, and counts the volumes past the first four', () => {
    const aix = new AixClient('aixdb04', ['hd1', 'hd2', 'hd3', 'hd4', 'hd5', 'hd6']);
    const healthy = aix.heartbeat(at(10));
    const gone = aix.event(
      'mirror.degraded',
      'hd1',
      { array: 'hd1', kind: 'lvm', level: 'raid1', members: aix.members('in-sync').slice(0, 1) },
      at(130),
    );
    const host = sliceAfter(
      aix.hostId,
      healthy,
      gone,
      ...['hd2', 'hd3', 'hd4', 'hd5', 'hd6'].map((volume, index) => aix.stale(volume, at(131 + index))),
    );
    const outcome = planOn(host);
    expect(outcome.kind === 'refuse' && outcome.reason).toBe(
      `${NO_RUNBOOK}: hd1 lost its copy on hdisk1 (${VIOS2}); hd2 has stale partitions on hdisk1 (${VIOS2}); hd3 has stale partitions on hdisk1 (${VIOS2}); hd4 has stale partitions on hdisk1 (${VIOS2}); and 2 more logical volume(s); a person runs varyonvg and syncvg once the disks are back`,
    );
  });

  it('leaves a host whose logical volumes are in sync to the other planners', () => {
    const aix = new AixClient('aixdb05');
    const host = sliceAfter(aix.hostId, aix.heartbeat(at(10)));
    expect(planLvm({ host, failureDomain: VIOS2, config: DEFAULT_CORE_CONFIG, isDomainUp: () => true })).toBe(
      undefined,
    );
    expect(planOn(host)).toEqual({ kind: 'healthy' });
  });

  it('leaves a stale volume on another domain to that domain', () => {
    const aix = new AixClient('aixdb06', ['hd4']);
    const host = sliceAfter(aix.hostId, aix.heartbeat(at(130), { stale: true }));
    expect(planOn(host, 'fc:500507680b21ac1c')).toEqual({ kind: 'healthy' });
  });
});

describe('the MPIO legs of one hdisk in the core', () => {
  it('keeps each leg of hdisk2 its own record, by address: the leg through vios2 fails while the one through vios1 stays enabled', () => {
    const aix = new AixClient('aixdb09', ['hd4']);
    const leg = (hctl: string, failureDomain: string, state: PathReport['state']): PathReport => ({
      map: 'hdisk2',
      wwid: '00f6db0a8d2e4c19',
      path: 'hdisk2',
      hctl,
      failureDomain,
      state,
    });
    const host = sliceAfter(
      aix.hostId,
      aix.heartbeat(at(10), { paths: [leg('0:1:0:0', VIOS1, 'active'), leg('1:1:1:0', VIOS2, 'active')] }),
      aix.heartbeat(at(130), { paths: [leg('0:1:0:0', VIOS1, 'active'), leg('1:1:1:0', VIOS2, 'failed')] }),
    );
    expect(
      Object.values(host.paths)
        .map((record) => `${record.path} ${record.hctl} ${record.failureDomain} ${record.state}`)
        .sort(),
    ).toEqual([`hdisk2 0:1:0:0 ${VIOS1} active`, `hdisk2 1:1:1:0 ${VIOS2} failed`]);
    // The failed leg through vios2 is paged for (AIX runs no plan action), not planned.
    expect(planOn(host)).toMatchObject({ kind: 'refuse' });
  });
});

describe('criticalReason on an lvm array', () => {
  const record = (hdisk0: Member['state'], hdisk1: Member['state']): ArrayRecord => ({
    array: 'hd4',
    kind: 'lvm',
    level: 'raid1',
    members: [
      { device: 'hdisk0', disk: 'hdisk0', state: hdisk0, failureDomain: VIOS1 },
      { device: 'hdisk1', disk: 'hdisk1', state: hdisk1, failureDomain: VIOS2 },
    ],
    known: [],
    health: 'degraded',
    watermark: { bootid: 'b', seq: 1 },
    changedAt: at(0),
  });

  it('is a double fault when the one copy in sync depends on a down VIOS, or no copy is left', () => {
    expect(criticalReason(record('in-sync', 'faulty'), (domain) => domain === VIOS1)).toBe(
      "hd4's remaining in-sync members all depend on down domains",
    );
    expect(criticalReason(record('faulty', 'faulty'), () => false)).toBe('hd4 has no in-sync member left');
    expect(criticalReason(record('in-sync', 'faulty'), (domain) => domain === VIOS2)).toBe(undefined);
  });
});

describe('an outage of vios2 under Linux md clients and AIX clients', () => {
  const run = () => {
    const rng = random(20261505);
    const linux = ['lnxmix01', 'lnxmix02'].map((name) => new VscsiClient(name, rng));
    const aix = ['aixmix01', 'aixmix02'].map((name) => new AixClient(name));
    const vios2 = new HostingPartition('vios2', VIOS2);
    const { world, feed } = worldWith();
    feed(vios2.heartbeat(at(0)));
    [...linux, ...aix].forEach((client, index) => {
      feed(client.heartbeat(at(1 + index)));
    });
    feed(vios2.goingDown(at(100)));
    linux.forEach((client, index) => {
      feed(client.rootDegraded(at(110 + index)));
    });
    aix.forEach((client, index) => {
      feed(client.stale('hd4', at(115 + index)), client.heartbeat(at(120 + index), { stale: true }));
    });
    feed(vios2.iplCompleted(at(600), at(590)));
    // Each Linux client heals a minute after its plan; the AIX clients report nothing new.
    const byId = new Map(linux.map((client) => [client.hostId, client]));
    let answered = 0;
    for (let time = 601; time <= 1500; time += 1) {
      world.fireDue(at(time));
      for (; answered < world.plans.length; answered += 1) {
        const plan = world.plans[answered];
        const client = plan === undefined ? undefined : byId.get(plan.hostId);
        if (plan === undefined || client === undefined) continue;
        feed(...client.mirrors.map((mirror) => client.healthy(mirror, at(time + 60), plan.id)));
      }
    }
    return { world, linux, aix };
  };

  it('plans the Linux clients and pages for the AIX clients, naming the first, with no plan for either', () => {
    const { world, linux, aix } = run();
    expect(world.plans.map((plan) => plan.hostId).sort()).toEqual(
      linux.map((client) => client.hostId).sort(),
    );
    const escalation = world.notifications.find((notification) => notification.summary.includes(NO_RUNBOOK));
    expect(escalation).toMatchObject({ action: 'trigger', severity: 'critical' });
    expect(escalation?.summary).toMatch(
      /^aixmix0[12] needs a person: no runbook for AIX LVM mirrors yet: hd4 /,
    );
    for (const client of aix) {
      const episode = Object.values(world.hosts.get(client.hostId)?.episodes ?? {})[0];
      expect(episode?.status).toBe('skipped');
      expect(world.timeline.map((entry) => entry.text)).toContainEqual(
        expect.stringContaining(`no plan for ${client.hostId}: ${NO_RUNBOOK}`),
      );
    }
  });
});
