import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeModel } from '../../../sim/fake-host/host-model.mjs';
import {
  type ControlPlaneStub,
  DASH,
  hostFields,
  progressOf,
  SHELLS,
  type ShAgentHost,
  sectionText,
  shAgentHost,
  shPlan,
  signedLines,
  startControlPlaneStub,
} from '../../helpers/sh-agent.ts';
import { GUEST, RUNBOOK, returnedGuest } from '../executor/svm-guest.ts';

/**
 * What the sh agent cannot post stays on disk, in a bounded spool, and is sent in order once the
 * control plane answers again; `announce going-down` is delivered, or spooled for the next run.
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

const seqOf = (body: string): number => Number(hostFields(body).seq);

describe.each(SHELLS)('the spool under $name', (shell) => {
  it('keeps what it could not post while the control plane was down, and sends it first, in order, once it is back', async () => {
    const { agent, stub } = await agentOn();
    stub.setDown(true);
    await agent.run(shell, ['run', '--once']);
    await agent.run(shell, ['run', '--once']);
    expect(stub.collects).toEqual([]);
    expect(agent.spooled()).toHaveLength(2);
    stub.setDown(false);
    await agent.run(shell, ['run', '--once']);
    expect(agent.spooled()).toEqual([]);
    expect(stub.collects).toHaveLength(3);
    const seqs = stub.collects.map((collect) => seqOf(collect.body));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(3);
  });

  it('announces going-down with its reason made safe, and spools it when the control plane is down', async () => {
    const { agent, stub } = await agentOn();
    stub.setDown(true);
    const down = await agent.run(shell, ['announce', 'going-down', 'firmware update; $(id) `uname`']);
    expect(down.code).toBe(0);
    expect(down.stderr).toContain('spooled');
    expect(stub.collects).toEqual([]);
    stub.setDown(false);
    await agent.run(shell, ['run', '--once']);
    const [first] = stub.collects;
    expect(sectionText(first?.body ?? '', 'announce')).toBe('going-down firmware update_ _(id) _uname_\n');
    expect(sectionText(first?.body ?? '', 'metastat')).toContain('d10: Mirror');
    const up = await agent.run(shell, ['announce', 'going-down']);
    expect(up.stderr).toContain('announced going-down');
    expect(sectionText(stub.collects.at(-1)?.body ?? '', 'announce')).toBe('going-down\n');
  });

  it('keeps its bodies on a 429 and posts nothing until its Retry-After has passed, then all of them in order', async () => {
    const { agent, stub } = await agentOn();
    stub.setRateLimited(120);
    const { stderr } = await agent.run(shell, ['run', '--once']);
    expect(stub.refusedCollects, stderr).toBe(1);
    expect(agent.spooled()).toHaveLength(1);
    const postAfter = join(agent.stateDir, 'post-after');
    const until = Number(readFileSync(postAfter, 'utf8'));
    expect(until - Date.now() / 1000).toBeGreaterThan(100);

    // The limit is lifted at once, but the agent was told to wait: it holds its posts.
    stub.setRateLimited(undefined);
    await agent.run(shell, ['run', '--once']);
    expect(stub.refusedCollects).toBe(1);
    expect(stub.collects).toEqual([]);
    expect(agent.spooled()).toHaveLength(2);

    // As if the 120 s had passed: everything goes, oldest first.
    writeFileSync(postAfter, `${Math.floor(Date.now() / 1000) - 1}\n`);
    await agent.run(shell, ['run', '--once']);
    expect(agent.spooled()).toEqual([]);
    const seqs = stub.collects.map((collect) => seqOf(collect.body));
    expect(seqs).toHaveLength(3);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it('drops a post-after further ahead than the longest Retry-After, as after its clock was stepped back, and posts at once', async () => {
    const { agent, stub } = await agentOn();
    const postAfter = join(agent.stateDir, 'post-after');
    const nowSeconds = () => Math.floor(Date.now() / 1000);

    // Within the hour a Retry-After may ask for, the wait is kept.
    writeFileSync(postAfter, `${nowSeconds() + 3000}\n`);
    await agent.run(shell, ['run', '--once']);
    expect(stub.collects).toEqual([]);
    expect(agent.spooled()).toHaveLength(1);

    // Written on a clock two hours ahead, then stepped back: no answer asked for that.
    writeFileSync(postAfter, `${nowSeconds() + 2 * 3600}\n`);
    const { stderr } = await agent.run(shell, ['run', '--once']);
    expect(stderr).toContain('dropped a Retry-After wait');
    expect(existsSync(postAfter)).toBe(false);
    expect(agent.spooled()).toEqual([]);
    const seqs = stub.collects.map((collect) => seqOf(collect.body));
    expect(seqs).toHaveLength(2);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });
});

describe('the spool', () => {
  it('stays under spoolMaxBytes, dropping the oldest snapshots before any body with progress, never the newest', async () => {
    const { agent, stub } = await agentOn();
    agent.configure({ apiUrl: stub.url, spoolMaxBytes: '65536' });
    const spool = join(agent.stateDir, 'spool');
    mkdirSync(spool, { recursive: true });
    const padding = `${'x'.repeat(99)}\n`.repeat(250);
    const name = (n: number) => `${String(n).padStart(20, '0')}.collect`;
    writeFileSync(join(spool, name(1)), `#faultline host\nseq=1\n#faultline metastat\n${padding}`);
    writeFileSync(
      join(spool, name(2)),
      `#faultline host\nseq=2\n#faultline progress\npln-1\t0\tdisk.probe\tsucceeded\t\tsteps\n${padding}`,
    );
    writeFileSync(join(spool, name(3)), `#faultline host\nseq=3\n#faultline metastat\n${padding}`);
    stub.setDown(true);
    await agent.run(DASH, ['run', '--once']);
    // 3 x 25 KB and the new body: over 64 KiB, so the oldest snapshot-only body goes, and it is enough.
    expect(agent.spooled()).toEqual([name(2), name(3), expect.stringMatching(/^\d{20}\.collect$/)]);
    stub.setDown(false);
    await agent.run(DASH, ['run', '--once']);
    expect(stub.collects.slice(0, 2).map((collect) => hostFields(collect.body).seq)).toEqual(['2', '3']);
    expect(progressOf(stub.collects, 'pln-1')).toEqual(['0 disk.probe succeeded']);
  });

  it('keeps its bodies when the token is refused (401)', async () => {
    const { agent, stub } = await agentOn();
    writeFileSync(agent.tokenPath, 'fl_agent_another_token_0000000000\n');
    await agent.run(DASH, ['run', '--once']);
    expect(stub.collects).toEqual([]);
    expect(agent.spooled()).toHaveLength(1);
  });

  it("reads a 429's Retry-After through wget as through curl", async () => {
    const { agent, stub } = await agentOn();
    agent.configure({ apiUrl: stub.url, httpClient: 'wget' });
    stub.setRateLimited(90);
    const { stderr } = await agent.run(DASH, ['run', '--once']);
    expect(stub.refusedCollects, stderr).toBe(1);
    expect(stderr).toContain('posting again in 90 s (Retry-After)');
    expect(agent.spooled()).toHaveLength(1);
  });

  it('posts and fetches through wget as through curl', async () => {
    const { agent, stub } = await agentOn();
    agent.configure({ apiUrl: stub.url, httpClient: 'wget' });
    const plan = shPlan(GUEST, RUNBOOK);
    stub.setPlans(signedLines(plan, agent.privateKey));
    const { stderr } = await agent.run(DASH, ['run', '--once']);
    expect(progressOf(stub.collects, plan.id).at(-1), stderr).toBe('3 svm.metadb-restore succeeded');
    expect(stub.collects.every((collect) => collect.authorization?.startsWith('Bearer '))).toBe(true);
    expect(agent.spooled()).toEqual([]);
  });
});
