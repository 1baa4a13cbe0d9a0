import { generateKeyPairSync, verify } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Plan, planSigningBytes, signPlan } from '../../../events/index.ts';
import { highSTwin } from '../../helpers/ecdsa-forms.ts';
import { type FakeHost, fakeMdClient } from '../../helpers/fake-host.ts';
import { fastPathPlan, KEYS, LAYOUT, lastProgress, type Run, runOn } from './harness.ts';

const hosts: FakeHost[] = [];
const host = (remote: 'back' | 'offline' = 'back') => {
  const made = fakeMdClient(LAYOUT, remote);
  hosts.push(made);
  return made;
};
afterEach(() => {
  for (const made of hosts.splice(0)) made.remove();
});

/** Refused before anything touched the host: no command, no read, one refusal event. */
const expectRefused = (fake: FakeHost, run: Run, code: string, planId: string | undefined) => {
  expect(run.result).toMatchObject({ outcome: 'refused', code, steps: [] });
  expect(fake.actions()).toEqual([]);
  expect(fake.reads()).toEqual([]);
  const progress = run.events.filter((event) => event.type === 'command.progress');
  expect(progress).toHaveLength(1);
  expect(lastProgress(run.events)).toMatchObject({
    planId,
    step: 0,
    action: 'disk.probe',
    outcome: 'refused',
    code,
  });
  expect(progress[0]?.planid).toBe(planId);
};

describe('plan admission', () => {
  it('refuses a plan signed by another key (bad-signature)', async () => {
    const fake = host();
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const plan = signPlan(fastPathPlan(fake), other.privateKey);
    const run = await runOn(fake, plan, { raw: true });
    expectRefused(fake, run, 'bad-signature', plan.id);
  });

  it('refuses a plan changed after it was signed (bad-signature)', async () => {
    const fake = host();
    const plan = signPlan(fastPathPlan(fake), KEYS.privateKey);
    const tampered: Plan = {
      ...plan,
      steps: [...plan.steps, { action: 'md.fail', array: 'md0', member: 'sda1' }],
    };
    expectRefused(fake, await runOn(fake, tampered, { raw: true }), 'bad-signature', plan.id);
  });

  it('refuses the high-S twin of a valid signature, which plain crypto.verify accepts (bad-signature)', async () => {
    const fake = host();
    const plan = signPlan(fastPathPlan(fake), KEYS.privateKey);
    const twin = highSTwin(Buffer.from(plan.signature, 'base64'));
    expect(verify('sha256', planSigningBytes(plan), KEYS.publicKey, twin)).toBe(true);
    const highS: Plan = { ...plan, signature: twin.toString('base64') };
    expectRefused(fake, await runOn(fake, highS, { raw: true }), 'bad-signature', plan.id);
  });

  it('refuses a plan for another host (wrong-host)', async () => {
    const fake = host();
    const plan = fastPathPlan(fake, { hostId: 'lnxclient08.example.net' });
    expectRefused(fake, await runOn(fake, plan), 'wrong-host', plan.id);
  });

  it('refuses a plan made for another boot of this host (wrong-boot)', async () => {
    const fake = host();
    const plan = fastPathPlan(fake, { bootId: 'c2e4d6f8-aaaa-bbbb-cccc-ddddeeeeffff' });
    expectRefused(fake, await runOn(fake, plan), 'wrong-boot', plan.id);
  });

  it('refuses a plan issued before this boot began (wrong-boot)', async () => {
    const fake = host();
    fake.update((model) => {
      model.btime = Math.floor(fake.clock.now() / 1000) - 60;
    });
    const plan = fastPathPlan(fake);
    expectRefused(fake, await runOn(fake, plan), 'wrong-boot', plan.id);
  });

  it('refuses a plan first received during an earlier boot (wrong-boot)', async () => {
    const fake = host();
    const plan = fastPathPlan(fake);
    writeFileSync(fake.stopFile, '');
    const first = await runOn(fake, plan);
    expect(first.result.code).toBe('stop-file');
    rmSync(fake.stopFile);
    const model = fake.model();
    const later = await runOn(fake, plan, {
      identity: { hostId: model.hostId, bootId: 'c2e4d6f8-aaaa-bbbb-cccc-ddddeeeeffff' },
    });
    expect(later.result).toMatchObject({ outcome: 'refused', code: 'wrong-boot' });
    expect(fake.actions()).toEqual([]);
  });

  it('refuses a plan whose TTL passed since the agent first received it (expired)', async () => {
    const fake = host();
    const plan = fastPathPlan(fake, { ttlSeconds: 300 });
    writeFileSync(fake.stopFile, '');
    expect((await runOn(fake, plan)).result.code).toBe('stop-file');
    rmSync(fake.stopFile);
    fake.clock.advance(300_000);
    const run = await runOn(fake, plan);
    expect(run.result).toMatchObject({ outcome: 'refused', code: 'expired' });
    expect(fake.actions()).toEqual([]);
    expect(lastProgress(run.events)).toMatchObject({ outcome: 'refused', code: 'expired' });
  });

  it('refuses a plan issued long before, however recently it arrived (expired)', async () => {
    const fake = host();
    const plan = fastPathPlan(fake, {
      issuedAt: new Date(fake.clock.now() - 2 * 86_400_000).toISOString(),
    });
    fake.update((model) => {
      model.btime = Math.floor((fake.clock.now() - 10 * 86_400_000) / 1000);
    });
    expectRefused(fake, await runOn(fake, plan), 'expired', plan.id);
  });

  it('runs a plan id at most once (already-run)', async () => {
    const fake = host();
    const plan = fastPathPlan(fake);
    const first = await runOn(fake, plan);
    expect(first.result).toMatchObject({ outcome: 'succeeded', branch: 'fastPath' });
    const ran = fake.actions();
    expect(ran.length).toBeGreaterThan(0);
    const replay = await runOn(fake, plan);
    expect(replay.result).toMatchObject({ outcome: 'refused', code: 'already-run' });
    expect(fake.actions()).toEqual(ran);
  });

  it('remembers a started plan on disk before its first step runs', async () => {
    const fake = host();
    const plan = fastPathPlan(fake);
    let recorded = false;
    const run = await runOn(fake, plan, {
      writeSysfs: fake.writeSysfs,
      runProgram: async (program, args, options) => {
        recorded ||= readdirSync(join(fake.stateDir, 'plans', 'runs')).includes(`${plan.id}.execute.json`);
        return fake.runInProcess(program, args, options);
      },
    });
    expect(run.result.outcome).toBe('succeeded');
    expect(recorded).toBe(true);
  });

  it('lets a dry-run and the real run of one plan id each run once', async () => {
    const fake = host();
    const plan = fastPathPlan(fake);
    expect((await runOn(fake, { ...plan, mode: 'dry-run' })).result.outcome).toBe('succeeded');
    expect(fake.actions()).toEqual([]);
    expect((await runOn(fake, plan)).result.outcome).toBe('succeeded');
    expect((await runOn(fake, { ...plan, mode: 'dry-run' })).result.code).toBe('already-run');
  });

  it('refuses while another live plan holds the lock (plan-running), and takes over a stale lock', async () => {
    const fake = host();
    const plans = join(fake.stateDir, 'plans');
    mkdirSync(plans, { recursive: true });
    const lock = (pid: number) =>
      writeFileSync(
        join(plans, 'plan.lock'),
        JSON.stringify({
          pid,
          planId: 'pln-other',
          bootId: fake.model().bootId,
          acquiredAt: new Date().toISOString(),
        }),
      );
    lock(process.ppid);
    const busy = fastPathPlan(fake);
    expectRefused(fake, await runOn(fake, busy), 'plan-running', busy.id);
    lock(2 ** 22 + 12_345);
    const after = await runOn(fake, fastPathPlan(fake));
    expect(after.result.outcome).toBe('succeeded');
  });

  it('refuses every plan while the stop file exists (stop-file)', async () => {
    const fake = host();
    writeFileSync(fake.stopFile, 'maintenance window\n');
    const plan = fastPathPlan(fake);
    expectRefused(fake, await runOn(fake, plan), 'stop-file', plan.id);
  });

  it('refuses a plan with an action this platform cannot run (unsupported-action)', async () => {
    const fake = host();
    const plan = fastPathPlan(fake);
    expectRefused(fake, await runOn(fake, plan, { platform: 'solaris' }), 'unsupported-action', plan.id);
  });

  it('refuses every plan when no public key is configured (no-plan-key)', async () => {
    const fake = host();
    const plan = fastPathPlan(fake);
    const run = await runOn(fake, plan, { config: fake.config() });
    expectRefused(fake, run, 'no-plan-key', plan.id);
  });

  it('refuses what does not parse as a plan (invalid-plan), reporting it when it carries an id', async () => {
    const fake = host();
    const plan = signPlan(fastPathPlan(fake), KEYS.privateKey);
    const unknownAction = {
      ...plan,
      steps: [...plan.steps, { action: 'md.zero-superblock', member: 'sdb1' }],
    };
    expectRefused(fake, await runOn(fake, unknownAction, { raw: true }), 'invalid-plan', plan.id);
    const shell = { ...plan, steps: [{ ...plan.steps[0], disk: 'sdb; rm -rf /' }] };
    const run = await runOn(fake, shell, { raw: true });
    expect(run.result).toMatchObject({ outcome: 'refused', code: 'invalid-plan' });
    const garbage = await runOn(fake, 'not json at all', { raw: true });
    expect(garbage.result).toMatchObject({ outcome: 'refused', code: 'invalid-plan', steps: [] });
    expect(garbage.events).toEqual([]);
    expect(fake.actions()).toEqual([]);
  });

  it('refuses when no state directory can remember the plan (ledger-unavailable)', async () => {
    const fake = host();
    const file = join(fake.root, '..', 'not-a-directory');
    writeFileSync(file, '');
    const plan = fastPathPlan(fake);
    const run = await runOn(fake, plan, {
      config: fake.config({
        planPublicKey: KEYS.publicKey,
        stateDir: join(file, 'state'),
        fallbackStateDir: join(file, 'run'),
      }),
    });
    expectRefused(fake, run, 'ledger-unavailable', plan.id);
  });
});

describe('plan admission when the agent itself fails', () => {
  it('reports an invalid plan given as JSON text by the id it carries', async () => {
    const fake = host();
    const plan = signPlan(fastPathPlan(fake), KEYS.privateKey);
    const text = JSON.stringify({ ...plan, ttlSeconds: -1 });
    const run = await runOn(fake, text, { raw: true });
    expect(run.result).toMatchObject({ outcome: 'refused', code: 'invalid-plan', planId: plan.id });
    expect(lastProgress(run.events)).toMatchObject({ planId: plan.id, code: 'invalid-plan' });
  });

  it('stops a plan whose events cannot be recorded, releases the lock, and never runs it again', async () => {
    const fake = host();
    const plan = fastPathPlan(fake);
    const broken = await runOn(fake, plan, {
      sink: {
        emit: () => {
          throw new Error('ENOSPC: no space left on device, write');
        },
      },
    });
    expect(broken.result).toMatchObject({ outcome: 'failed', code: 'internal-error' });
    expect(fake.actions()).toEqual([]);
    expect((await runOn(fake, plan)).result).toMatchObject({ outcome: 'refused', code: 'already-run' });
    expect((await runOn(fake, fastPathPlan(fake))).result.outcome).toBe('succeeded');
  });
});
