import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { type Plan, signPlan, type UnsignedPlan } from '../../../events/index.ts';
import { emptyModel } from '../../../sim/fake-host/sim-host.ts';
import {
  HostingPartition,
  hostNames,
  random,
  type VscsiClient,
  VscsiClient as VscsiClientClass,
  vscsi,
  worldWith,
} from '../../helpers/core-fleet.ts';
import type { MdClientLayout } from '../../helpers/fake-host.ts';

/**
 * The field case of docs/architecture.md §1, planned by the real core: clients with a root and a swap mirror
 * over two VIOS; vios2 IPLs, every client's root mirror loses its vios2 half (the swap mirror on the
 * same disk still shows in sync); vios2 comes back, and after the stability period the core sends
 * the canary its plan. That plan, signed, is what the executor is given.
 */

export type PlanKeys = { privateKey: KeyObject; publicKey: KeyObject };

export const planKeys = (): PlanKeys => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

export type FieldCase = { plan: UnsignedPlan; client: VscsiClient; layout: MdClientLayout };

export const vios2FieldCase = (seed: number): FieldCase => {
  const rng = random(seed);
  const clients = hostNames(rng, 3).map((name) => new VscsiClientClass(name, rng));
  // The clients run the boot the fake host reports: the core names it in the plan (`bootId`).
  for (const client of clients) client.bootid = emptyModel(client.hostId).bootId;
  const vios2 = new HostingPartition('vios2', vscsi('vios2'));
  const { world, feed } = worldWith();
  const at = (seconds: number) =>
    new Date(Date.parse('2026-11-22T03:00:00.000Z') + seconds * 1000).toISOString();
  feed(vios2.heartbeat(at(0)), ...clients.map((client) => client.heartbeat(at(1))));
  for (const [index, client] of clients.entries()) feed(client.rootDegraded(at(100 + index)));
  feed(vios2.iplCompleted(at(700), at(690)));
  for (let beat = 60; beat <= 780 && world.plans.length === 0; beat += 60) {
    world.ingest(vios2.heartbeat(at(beat)));
    world.fireDue(at(beat));
  }
  const plan = world.plans[0];
  if (plan === undefined) throw new Error('the core sent no canary plan');
  const client = clients.find((candidate) => candidate.hostId === plan.hostId);
  if (client === undefined) throw new Error(`no client ${plan.hostId}`);
  return {
    plan,
    client,
    layout: {
      hostId: client.hostId,
      localDisk: client.localDisk,
      remoteDisk: client.remoteDisk,
      hctl: client.hctl,
      scsiHost: client.scsiHost,
      mirrors: client.mirrors.map((mirror) => ({
        array: mirror.array,
        uuid: mirror.uuid,
        partition: mirror.partition,
      })),
    },
  };
};

export const signed = (plan: UnsignedPlan, keys: PlanKeys): Plan => signPlan(plan, keys.privateKey);

/** Waits and deadlines of minutes, run on the fake host's clock in no time. */
export const FAKE_TIMING = {
  syncPollMs: 1_000,
  progressReportMs: 2_000,
  settleTimeoutMs: 10_000,
  settlePollMs: 100,
  deleteTimeoutMs: 5_000,
  deletePollMs: 50,
};
