import { afterEach, describe, expect, it } from 'vitest';
import type { PlanStep } from '../../../events/index.ts';
import type { FakeModel } from '../../../sim/fake-host/host-model.mjs';
import {
  busyboxAwk,
  type ControlPlaneStub,
  DASH,
  hostFields,
  progressOf,
  SHELLS,
  type ShAgentHost,
  shAgentHost,
  shPlan,
  signedLines,
  startControlPlaneStub,
} from '../../helpers/sh-agent.ts';
import {
  GUEST,
  guestModel,
  probeC0d1,
  RUNBOOK,
  replaceC0d1s0,
  returnedGuest,
  returnedTwoDiskGuest,
  waitD10,
} from '../executor/svm-guest.ts';

/**
 * The sh agent heals an LDoms guest whose alternate service domain came back (§4 SVM runbook):
 * `metareplace -e` of the alternate's component only, a wait until every submirror is Okay, then
 * the state database replicas the returned disk kept in error re-created, each step re-checked
 * on the host and reported as progress in the collects it posts. A Last Erred component is
 * refused and never touched.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The sh agent on a copy of `model` (a fake host's), with a control plane stub. */
const agentOn = async (model: FakeModel): Promise<{ agent: ShAgentHost; stub: ControlPlaneStub }> => {
  const stub = await startControlPlaneStub(GUEST);
  const agent = shAgentHost(model, { apiUrl: stub.url });
  cleanups.push(
    () => stub.close(),
    () => agent.host.remove(),
  );
  return { agent, stub };
};

/** The model of a guest made by a builder of svm-guest.ts (its host removed once read). */
const modelOf = (build: () => { model: () => FakeModel; remove: () => void }): FakeModel => {
  const built = build();
  const model = built.model();
  built.remove();
  return model;
};

const REPAIR_ACTIONS = [
  ['metareplace', '-e', 'd10', 'c0d1s0'],
  ['metadb', '-d', 'c0d1s7'],
  ['metadb', '-a', '-c', '3', 'c0d1s7'],
];

describe.each(SHELLS)('the sh agent under $name', (shell) => {
  it('heals a returned guest: metareplace -e of the returned component, wait, metadb restore, with progress posted', async () => {
    const { agent, stub } = await agentOn(modelOf(returnedGuest));
    const plan = shPlan(GUEST, RUNBOOK);
    stub.setPlans(signedLines(plan, agent.privateKey));
    const { code, stderr } = await agent.run(shell, ['run', '--once']);
    expect(code, stderr).toBe(0);
    expect(agent.host.actions()).toEqual(REPAIR_ACTIONS);
    expect(progressOf(stub.collects, plan.id)).toEqual([
      '0 disk.probe started',
      '0 disk.probe succeeded',
      '1 svm.metareplace started',
      '1 svm.metareplace succeeded',
      '2 svm.wait-sync started',
      '2 svm.wait-sync succeeded',
      '3 svm.metadb-restore started',
      '3 svm.metadb-restore succeeded',
    ]);
    const model = agent.host.model();
    expect(model.svm?.mirrors[0]?.submirrors.map((submirror) => submirror.state)).toEqual(['Okay', 'Okay']);
    expect(
      model.svm?.metadb.every((replica) => /a/.test(replica.flags) && !/[WRMDFSB]/.test(replica.flags)),
    ).toBe(true);
    // Every collect carries the host section, its seq strictly increasing.
    const seqs = stub.collects.map((collect) => Number(hostFields(collect.body).seq));
    expect(seqs.length).toBeGreaterThan(4);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(stub.collects.every((collect) => collect.contentType?.startsWith('text/plain'))).toBe(true);
    expect(agent.spooled()).toEqual([]);
  });

  it('refuses to metareplace a Last Erred component and touches nothing', async () => {
    const model = guestModel();
    const component = model.svm?.mirrors[0]?.submirrors[1]?.components[0];
    const submirror = model.svm?.mirrors[0]?.submirrors[1];
    if (component === undefined || submirror === undefined) throw new Error('the guest has d12');
    component.state = 'Last Erred';
    submirror.state = 'Last Erred';
    const { agent, stub } = await agentOn(model);
    const plan = shPlan(GUEST, RUNBOOK);
    stub.setPlans(signedLines(plan, agent.privateKey));
    const { code } = await agent.run(shell, ['run', '--once']);
    expect(code).toBe(0);
    expect(progressOf(stub.collects, plan.id)).toEqual([
      '0 disk.probe started',
      '0 disk.probe succeeded',
      '1 svm.metareplace started',
      '1 svm.metareplace refused last-erred',
    ]);
    expect(agent.host.actions()).toEqual([]);
  });
});

describe('the sh agent', () => {
  it('heals both disks of a guest whose root and data disks came from the returned domain (busybox awk)', async () => {
    const { agent, stub } = await agentOn(modelOf(returnedTwoDiskGuest));
    agent.configure({ apiUrl: stub.url, awk: busyboxAwk(agent.base) });
    const steps: [PlanStep, ...PlanStep[]] = [
      probeC0d1,
      { action: 'disk.probe', disk: 'c0d2', failureDomain: 'vdisk:t5-control/alternate' },
      replaceC0d1s0,
      { action: 'svm.metareplace', mirror: 'd20', component: 'c0d2s0' },
      waitD10,
      { action: 'svm.wait-sync', mirror: 'd20', stallSeconds: 600 },
      { action: 'svm.metadb-restore', slice: 'c0d1s7', count: 2 },
      { action: 'svm.metadb-restore', slice: 'c0d2s7', count: 1 },
    ];
    const plan = shPlan(GUEST, steps);
    stub.setPlans(signedLines(plan, agent.privateKey));
    const { code, stderr } = await agent.run(DASH, ['run', '--once']);
    expect(code, stderr).toBe(0);
    expect(agent.host.actions()).toEqual([
      ['metareplace', '-e', 'd10', 'c0d1s0'],
      ['metareplace', '-e', 'd20', 'c0d2s0'],
      ['metadb', '-d', 'c0d1s7'],
      ['metadb', '-a', '-c', '2', 'c0d1s7'],
      ['metadb', '-d', 'c0d2s7'],
      ['metadb', '-a', '-c', '1', 'c0d2s7'],
    ]);
    expect(progressOf(stub.collects, plan.id).filter((line) => !line.includes('started'))).toEqual([
      '0 disk.probe succeeded',
      '1 disk.probe succeeded',
      '2 svm.metareplace succeeded',
      '3 svm.metareplace succeeded',
      '4 svm.wait-sync succeeded',
      '5 svm.wait-sync succeeded',
      '6 svm.metadb-restore succeeded',
      '7 svm.metadb-restore succeeded',
    ]);
  });

  it('refuses a metadb restore before the wait-sync of its mirror succeeded in this run', async () => {
    const { agent, stub } = await agentOn(modelOf(returnedGuest));
    const plan = shPlan(GUEST, [
      probeC0d1,
      replaceC0d1s0,
      { action: 'svm.metadb-restore', slice: 'c0d1s7', count: 3 },
    ]);
    stub.setPlans(signedLines(plan, agent.privateKey));
    await agent.run(DASH, ['run', '--once']);
    expect(progressOf(stub.collects, plan.id).at(-1)).toBe(
      '2 svm.metadb-restore refused wait-sync-not-succeeded',
    );
    expect(agent.host.actions()).toEqual([['metareplace', '-e', 'd10', 'c0d1s0']]);
  });

  it('refuses a metadb restore whose count is not the replicas on the slice', async () => {
    const { agent, stub } = await agentOn(modelOf(returnedGuest));
    const plan = shPlan(GUEST, [
      probeC0d1,
      replaceC0d1s0,
      waitD10,
      { action: 'svm.metadb-restore', slice: 'c0d1s7', count: 2 },
    ]);
    stub.setPlans(signedLines(plan, agent.privateKey));
    await agent.run(DASH, ['run', '--once']);
    expect(progressOf(stub.collects, plan.id).at(-1)).toBe(
      '3 svm.metadb-restore refused replica-count-mismatch',
    );
    expect(agent.host.actions()).toEqual([['metareplace', '-e', 'd10', 'c0d1s0']]);
  });

  it('refuses a metareplace while a replica is in error off the repaired disk', async () => {
    const model = modelOf(returnedGuest);
    const replica = model.svm?.metadb[0];
    if (replica === undefined) throw new Error('the guest has replicas');
    replica.flags = 'W p l';
    const { agent, stub } = await agentOn(model);
    const plan = shPlan(GUEST, RUNBOOK);
    stub.setPlans(signedLines(plan, agent.privateKey));
    await agent.run(DASH, ['run', '--once']);
    expect(progressOf(stub.collects, plan.id).at(-1)).toBe('1 svm.metareplace refused metadb-unhealthy');
    expect(agent.host.actions()).toEqual([]);
  });

  it('fails a wait-sync whose resync makes no progress for stallSeconds', async () => {
    const model = modelOf(returnedGuest);
    if (model.svm !== null) model.svm.stalled = true;
    const { agent, stub } = await agentOn(model);
    const plan = shPlan(GUEST, [
      probeC0d1,
      replaceC0d1s0,
      { action: 'svm.wait-sync', mirror: 'd10', stallSeconds: 30 },
    ]);
    stub.setPlans(signedLines(plan, agent.privateKey));
    await agent.run(DASH, ['run', '--once']);
    expect(progressOf(stub.collects, plan.id).at(-1)).toBe('2 svm.wait-sync failed sync-stalled');
  });
});
