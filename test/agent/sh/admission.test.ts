import { verify } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { planLines } from '../../../events/index.ts';
import type { FakeModel } from '../../../sim/fake-host/host-model.mjs';
import { highSTwin, isHighS } from '../../helpers/ecdsa-forms.ts';
import {
  type ControlPlaneStub,
  DASH,
  progressOf,
  SHELLS,
  type ShAgentHost,
  shAgentHost,
  shPlan,
  signedLines,
  signText,
  startControlPlaneStub,
} from '../../helpers/sh-agent.ts';
import { GUEST, RUNBOOK, returnedGuest } from '../executor/svm-guest.ts';

/**
 * Plan admission in the sh agent (§4; agent/executor/plan-admission.ts): a plan runs only if its
 * signature verifies, it names this host and this boot, it is not past its TTL, it never ran here,
 * every action is one the agent runs and no stop file exists. Each refusal is reported as
 * progress `refused` at step 0 with the Node agent's code, and nothing runs.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const returnedModel = (): FakeModel => {
  const built = returnedGuest();
  const model = built.model();
  built.remove();
  return model;
};

const agentOn = async (): Promise<{ agent: ShAgentHost; stub: ControlPlaneStub }> => {
  const stub = await startControlPlaneStub(GUEST);
  const agent = shAgentHost(returnedModel(), { apiUrl: stub.url });
  cleanups.push(
    () => stub.close(),
    () => agent.host.remove(),
  );
  return { agent, stub };
};

const REPAIR = [
  ['metareplace', '-e', 'd10', 'c0d1s0'],
  ['metadb', '-d', 'c0d1s7'],
  ['metadb', '-a', '-c', '3', 'c0d1s7'],
];

describe.each(SHELLS)('plan admission under $name', (shell) => {
  it('refuses the high-S twin of a valid signature (bad-signature), which plain openssl verifies, and runs the low-S original', async () => {
    const { agent, stub } = await agentOn();
    const plan = shPlan(GUEST, RUNBOOK);
    const lines = planLines(plan);
    const low = Buffer.from(signText(lines, agent.privateKey), 'base64');
    const high = highSTwin(low);
    expect(isHighS(low)).toBe(false);
    expect(verify('sha256', Buffer.from(lines, 'utf8'), agent.privateKey, high)).toBe(true);
    stub.setPlans(`${lines}sig\t${high.toString('base64')}\n`);
    await agent.run(shell, ['run', '--once']);
    expect(progressOf(stub.collects, plan.id)).toEqual(['0 disk.probe refused bad-signature']);
    expect(agent.host.actions()).toEqual([]);

    // The same plan under its low-S signature is the one the agent admits.
    const again = shPlan(GUEST, RUNBOOK);
    stub.setPlans(signedLines(again, agent.privateKey));
    await agent.run(shell, ['run', '--once']);
    expect(agent.host.actions()).toEqual(REPAIR);
  });

  it('refuses a changed byte, another host, an expired plan, another boot, an action it cannot run and a plan that does not parse, each with its code', async () => {
    const { agent, stub } = await agentOn();
    const tampered = shPlan(GUEST, RUNBOOK);
    const changed = signedLines(tampered, agent.privateKey).replace('stallSeconds=600', 'stallSeconds=601');
    const otherHost = shPlan('ldg2.example.net', RUNBOOK);
    const expired = shPlan(GUEST, RUNBOOK, {
      issuedAt: new Date(Date.now() - (900 + 86_400 + 60) * 1000).toISOString(),
    });
    const otherBoot = shPlan(GUEST, RUNBOOK, { bootId: 'boot-1700000000' });
    const linux = shPlan(GUEST, [
      { action: 'disk.probe', disk: 'c0d1', failureDomain: 'vdisk:t5-control/alternate' },
      { action: 'md.fail', array: 'md0', member: 'sdb1' },
    ]);
    const unparsed = 'plan\tpln-garbled\tinc-sh-test\tldg1.example.net\n';
    stub.setPlans(
      [
        changed,
        signedLines(otherHost, agent.privateKey),
        signedLines(expired, agent.privateKey),
        signedLines(otherBoot, agent.privateKey),
        signedLines(linux, agent.privateKey),
        `${unparsed}sig\t${signText(unparsed, agent.privateKey)}\n`,
      ].join('\n'),
    );
    const { code } = await agent.run(shell, ['run', '--once']);
    expect(code).toBe(0);
    expect(progressOf(stub.collects, tampered.id)).toEqual(['0 disk.probe refused bad-signature']);
    expect(progressOf(stub.collects, otherHost.id)).toEqual(['0 disk.probe refused wrong-host']);
    expect(progressOf(stub.collects, expired.id)).toEqual(['0 disk.probe refused expired']);
    expect(progressOf(stub.collects, otherBoot.id)).toEqual(['0 disk.probe refused wrong-boot']);
    expect(progressOf(stub.collects, linux.id)).toEqual(['0 disk.probe refused unsupported-action']);
    expect(progressOf(stub.collects, 'pln-garbled')).toEqual(['0 disk.probe refused invalid-plan']);
    expect(agent.host.actions()).toEqual([]);
  });

  it('runs a plan id at most once: served again, it is refused as already run, and reported once', async () => {
    const { agent, stub } = await agentOn();
    const plan = shPlan(GUEST, RUNBOOK);
    stub.setPlans(signedLines(plan, agent.privateKey));
    await agent.run(shell, ['run', '--once']);
    expect(agent.host.actions()).toEqual(REPAIR);
    // The disk goes away and comes back again: the same plan would find work, and must not do it.
    agent.host.update((model) => {
      const submirror = model.svm?.mirrors[0]?.submirrors[1];
      const component = submirror?.components[0];
      if (submirror === undefined || component === undefined) throw new Error('the guest has d12');
      submirror.state = 'Needs maintenance';
      component.state = 'Maintenance';
    });
    await agent.run(shell, ['run', '--once']);
    await agent.run(shell, ['run', '--once']);
    expect(progressOf(stub.collects, plan.id).filter((line) => line.startsWith('0 '))).toEqual([
      '0 disk.probe started',
      '0 disk.probe succeeded',
      '0 disk.probe refused already-run',
    ]);
    expect(agent.host.actions()).toEqual(REPAIR);
  });

  it('runs nothing in dry-run, reporting what it would run; the same plan id may then run for real', async () => {
    const { agent, stub } = await agentOn();
    const plan = shPlan(GUEST, RUNBOOK, { mode: 'dry-run' });
    stub.setPlans(signedLines(plan, agent.privateKey));
    await agent.run(shell, ['run', '--once']);
    expect(progressOf(stub.collects, plan.id).filter((line) => !line.includes('started'))).toEqual([
      '0 disk.probe succeeded',
      '1 svm.metareplace skipped',
      '2 svm.wait-sync skipped',
      '3 svm.metadb-restore skipped',
    ]);
    expect(agent.host.actions()).toEqual([]);
    stub.setPlans(signedLines({ ...plan, mode: 'execute' }, agent.privateKey));
    await agent.run(shell, ['run', '--once']);
    expect(agent.host.actions()).toEqual(REPAIR);
  });

  it('honours the stop file: no plan runs while it exists', async () => {
    const { agent, stub } = await agentOn();
    const plan = shPlan(GUEST, RUNBOOK);
    stub.setPlans(signedLines(plan, agent.privateKey));
    await agent.run(shell, ['run', '--once']);
    expect(agent.host.actions()).toEqual(REPAIR);
    const stopped = shPlan(GUEST, RUNBOOK);
    stub.setPlans(signedLines(stopped, agent.privateKey));
    writeFileSync(agent.stopFile, '');
    await agent.run(shell, ['run', '--once']);
    expect(progressOf(stub.collects, stopped.id)).toEqual(['0 disk.probe refused stop-file']);
    expect(agent.host.actions()).toEqual(REPAIR);
  });
});

describe('plan admission', () => {
  it('stops a running plan when the stop file appears: no further step runs', async () => {
    const { agent, stub } = await agentOn();
    // The first wait of the agent (its read of the disk, or the wait for the resync) is when an
    // operator creates the stop file.
    writeFileSync(join(agent.base, 'sh-bin', 'sleep'), `#!/bin/sh\n: >'${agent.stopFile}'\n`, {
      mode: 0o755,
    });
    const plan = shPlan(GUEST, RUNBOOK);
    stub.setPlans(signedLines(plan, agent.privateKey));
    await agent.run(DASH, ['run', '--once']);
    const progress = progressOf(stub.collects, plan.id);
    expect(progress.at(-1)).toMatch(/^[1-3] svm\.[a-z-]+ (refused|failed) stop-file$/);
    expect(agent.host.actions().filter(([tool]) => tool === 'metadb')).toEqual([]);
  });

  it('counts a plan’s age from when it first arrived: past its TTL it is refused as expired', async () => {
    const { agent, stub } = await agentOn();
    const plan = shPlan(GUEST, RUNBOOK, { ttlSeconds: 1 });
    stub.setPlans(signedLines(plan, agent.privateKey));
    writeFileSync(agent.stopFile, '');
    await agent.run(DASH, ['run', '--once']);
    rmSync(agent.stopFile);
    await delay(2_100);
    await agent.run(DASH, ['run', '--once']);
    expect(progressOf(stub.collects, plan.id)).toEqual([
      '0 disk.probe refused stop-file',
      '0 disk.probe refused expired',
    ]);
    expect(agent.host.actions()).toEqual([]);
  });

  it('runs no plan without a public key to verify it, nor in dryRun', async () => {
    const { agent, stub } = await agentOn();
    const plan = shPlan(GUEST, RUNBOOK);
    stub.setPlans(signedLines(plan, agent.privateKey));
    agent.configure({ apiUrl: stub.url, planPublicKey: undefined });
    await agent.run(DASH, ['run', '--once']);
    expect(progressOf(stub.collects, plan.id)).toEqual(['0 disk.probe refused no-plan-key']);
    agent.configure({ apiUrl: stub.url, dryRun: 'true' });
    await agent.run(DASH, ['run', '--once']);
    expect(
      progressOf(stub.collects, plan.id)
        .slice(1)
        .filter((line) => !line.includes('started')),
    ).toEqual([
      '0 disk.probe succeeded',
      '1 svm.metareplace skipped',
      '2 svm.wait-sync skipped',
      '3 svm.metadb-restore skipped',
    ]);
    expect(agent.host.actions()).toEqual([]);
  });

  it('refuses a plan signed by another key', async () => {
    const { agent, stub } = await agentOn();
    const other = shAgentHost(returnedModel());
    cleanups.push(() => other.host.remove());
    const plan = shPlan(GUEST, RUNBOOK);
    stub.setPlans(`${planLines(plan)}sig\t${signText(planLines(plan), other.privateKey)}\n`);
    await agent.run(DASH, ['run', '--once']);
    expect(progressOf(stub.collects, plan.id)).toEqual(['0 disk.probe refused bad-signature']);
    expect(agent.host.actions()).toEqual([]);
  });
});
