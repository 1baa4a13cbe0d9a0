import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AGENT_VERSION, heartbeatDraft } from '../../../agent/detect/heartbeat.ts';
import { scanHostInDetail } from '../../../agent/scan/scan.ts';
import type { FaultlineEvent } from '../../../events/index.ts';
import { COLLECT_LIMITS } from '../../../probes/collect-body.ts';
import { SH_AGENT_CAPABILITIES } from '../../../probes/collect-events.ts';
import type { DetectionState } from '../../../probes/detection-state.ts';
import type { EventDraft } from '../../../probes/event-draft.ts';
import { detectChanges, type RecoveryProgress } from '../../../probes/snapshot-diff.ts';
import { type ApiAnswer, type ApiHarness, apiHarness, OPERATOR_SECRET } from '../../helpers/api-harness.ts';
import {
  BOOT,
  BOOTED_AT,
  collectBody,
  fixture,
  LDM_DISKS,
  LDM_LIST,
  LDM_LIST_ALTERNATE_STOPPED,
  ldmListAlternateUp,
  METADB_HEALTHY,
  METADB_IN_ERROR,
  METASTAT_NEEDS_MAINTENANCE,
  METASTAT_OKAY,
  METASTAT_RESYNCING,
} from './collect-bodies.ts';

/**
 * `POST /v1/agents/:hostId/collect` (docs/architecture.md §6): the sh agent of an LDoms guest and
 * of its control domain posts the raw output of its tools, and the control plane makes, judges and
 * queues the events a Node agent on that host would have sent.
 */

const GUEST = 'ldg1';
const CONTROL = 'cdom1';
const PRIMARY = 'vdisk:cdom1/primary';
const ALTERNATE = 'vdisk:cdom1/alternate';
const T0 = Date.parse('2026-11-22T03:00:00.000Z');
const at = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();
/** A seq as agents count them: the clock in microseconds. */
const micros = (seconds: number): number => (T0 + seconds * 1000) * 1000;

/** What an event says, without its envelope. */
const said = (event: { type: string; subject: string; data: unknown; planid?: string | undefined }) => ({
  type: event.type,
  subject: event.subject,
  data: event.data,
  ...(event.planid === undefined ? {} : { planid: event.planid }),
});

const scratch = mkdtempSync(join(tmpdir(), 'faultline-collect-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let trees = 0;

/**
 * The Node agent's own pipeline on the same tool outputs: its scan of a tree holding them
 * (agent/scan/scan.ts reads captured outputs as it runs the tools), its detection
 * (probes/snapshot-diff.ts) and its heartbeat (agent/detect/heartbeat.ts).
 */
const nodeAgent = async (
  outputs: { metastat: string; metadb: string },
  previous: DetectionState | undefined,
  now: string,
): Promise<{ drafts: EventDraft[]; state: DetectionState }> => {
  trees += 1;
  const root = join(scratch, `tree-${trees}`);
  mkdirSync(join(root, 'sos_commands', 'svm'), { recursive: true });
  writeFileSync(join(root, 'sos_commands', 'svm', 'metastat'), outputs.metastat);
  writeFileSync(join(root, 'sos_commands', 'svm', 'metadb_-i'), outputs.metadb);
  const scan = await scanHostInDetail({ root, hostId: GUEST, role: 'client', now: new Date(now) });
  const progress = new Map<string, RecoveryProgress>(
    Object.entries(scan.sync).map(([array, sync]) => [array, { progress: sync.progress ?? 0 }]),
  );
  const changes = detectChanges(previous, scan.snapshot, progress);
  const heartbeat = heartbeatDraft(scan.snapshot, {
    platform: 'solaris',
    role: 'client',
    intervalSeconds: 60,
    capabilities: SH_AGENT_CAPABILITIES,
  });
  return { drafts: [...changes.drafts, heartbeat], state: changes.state };
};

describe('POST /v1/agents/:hostId/collect', () => {
  let api: ApiHarness;
  let guestToken: string;
  let controlToken: string;

  const collect = async (
    hostId: string,
    token: string,
    body: string | Buffer,
    type = 'text/plain',
  ): Promise<ApiAnswer> => {
    const response = await api.app.request(`/v1/agents/${hostId}/collect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': type },
      body,
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: JSON.parse(text), text };
  };

  const registerControl = () =>
    api.store.putHostRecord({
      hostId: CONTROL,
      role: 'control',
      serves: [PRIMARY, ALTERNATE],
      registeredAt: at(0),
      registeredBy: 'ops',
    });

  beforeEach(async () => {
    api = await apiHarness();
    guestToken = await api.agentToken(GUEST);
    controlToken = await api.agentToken(CONTROL);
  });
  afterEach(async () => api.close());

  describe('from an LDoms guest', () => {
    it('makes mirror.degraded when the alternate goes, then, once it is back, exactly what a Node agent makes', async () => {
      const steps = [
        { metastat: METASTAT_OKAY, metadb: METADB_HEALTHY, expect: ['host.heartbeat'] },
        {
          metastat: METASTAT_NEEDS_MAINTENANCE,
          metadb: METADB_IN_ERROR,
          expect: ['mirror.degraded:d0', 'mirror.degraded:d1', 'host.heartbeat'],
        },
        {
          metastat: METASTAT_RESYNCING,
          metadb: METADB_IN_ERROR,
          expect: ['mirror.recovering:d0', 'mirror.recovering:d1', 'host.heartbeat'],
        },
        {
          metastat: METASTAT_OKAY,
          metadb: METADB_HEALTHY,
          expect: ['mirror.healthy:d0', 'mirror.healthy:d1', 'host.heartbeat'],
        },
      ];
      let node: DetectionState | undefined;
      for (const [index, step] of steps.entries()) {
        // The sh agent counts from the clock in microseconds, as the Node agent does.
        const seq = micros(60 * (index + 1));
        const time = at(60 * (index + 1));
        const answer = await collect(
          GUEST,
          guestToken,
          collectBody(
            { seq, time, agentVersion: AGENT_VERSION },
            { metastat: step.metastat, metadb: step.metadb },
          ),
        );
        expect(answer.status, `collect ${seq}`).toBe(202);
        const events = answer.body.events as FaultlineEvent[];
        expect(
          events.map((event) =>
            event.type === 'host.heartbeat' ? event.type : `${event.type}:${event.subject}`,
          ),
        ).toEqual(step.expect);
        expect(answer.body).toMatchObject({ outcome: 'new', rejected: [], ignored: [] });
        expect(answer.body.accepted).toEqual(events.map((event) => event.id));
        // Ids derived from (host, bootid, seq, index); seqs counting up from the collect's.
        expect(events.map((event) => [event.id, event.seq])).toEqual(
          events.map((_, n) => [`${GUEST}:${BOOT}:${seq}:${n}`, seq + n]),
        );
        for (const event of events) {
          expect(event).toMatchObject({
            source: `faultline-agent://${GUEST}`,
            hostid: GUEST,
            bootid: BOOT,
            time,
          });
        }

        const expected = await nodeAgent(step, node, time);
        node = expected.state;
        expect(events.map(said)).toEqual(expected.drafts.map(said));
      }
      const [degraded] = (
        await collect(
          GUEST,
          guestToken,
          collectBody(
            { seq: micros(600), time: at(600) },
            {
              metastat: METASTAT_NEEDS_MAINTENANCE,
              metadb: METADB_IN_ERROR,
            },
          ),
        )
      ).body.events as FaultlineEvent[];
      expect(degraded?.type === 'mirror.degraded' && degraded.data.members).toEqual([
        { device: 'c0d1s0', disk: 'c0d1', state: 'in-sync', failureDomain: 'local:ldg1', submirror: 'd10' },
        {
          device: 'c0d2s0',
          disk: 'c0d2',
          state: 'maintenance',
          failureDomain: 'local:ldg1',
          submirror: 'd20',
        },
      ]);
    });

    it('reads metastat -c as the long listing when only the compact one is sent', async () => {
      const otherToken = await api.agentToken('ldg2');
      const long = await collect(
        GUEST,
        guestToken,
        collectBody(
          { seq: 1, time: at(60) },
          { metastat: METASTAT_NEEDS_MAINTENANCE, metadb: METADB_IN_ERROR },
        ),
      );
      const compact = await collect(
        'ldg2',
        otherToken,
        collectBody(
          { seq: 1, time: at(60) },
          { 'metastat-c': fixture('metastat-compact', 'needs-maintenance.txt'), metadb: METADB_IN_ERROR },
        ),
      );
      expect(compact.status).toBe(202);
      const local = (events: FaultlineEvent[]) =>
        JSON.parse(JSON.stringify(events.map(said)).replaceAll('ldg2', GUEST)) as unknown;
      expect(local(compact.body.events)).toEqual(local(long.body.events));
      expect(compact.body.events.map((event: FaultlineEvent) => event.type)).toEqual([
        'mirror.degraded',
        'mirror.degraded',
        'host.heartbeat',
      ]);
    });

    it('queues its events for correlate as ingest queues posted ones: stamped, and sent as the agent', async () => {
      const answer = await collect(
        GUEST,
        guestToken,
        collectBody(
          { seq: 7, time: at(60) },
          { metastat: METASTAT_NEEDS_MAINTENANCE, metadb: METADB_IN_ERROR },
        ),
      );
      const queued = await api.drain();
      expect(queued.map((message) => message.body.id)).toEqual(answer.body.accepted);
      for (const message of queued) {
        expect(message.body).toMatchObject({
          receivedat: new Date(api.clock.now).toISOString(),
          sentby: `agent:${GUEST}`,
        });
        expect(message.sender).toEqual({ kind: 'agent', hostId: GUEST });
      }
      const heartbeat = queued.find((message) => message.body.type === 'host.heartbeat')
        ?.body as FaultlineEvent;
      expect(heartbeat.type === 'host.heartbeat' && heartbeat.data).toMatchObject({
        platform: 'solaris',
        role: 'client',
        capabilities: ['disk.probe', 'svm.metareplace', 'svm.wait-sync', 'svm.metadb-restore'],
        replicas: [
          { slice: 'c0d0s7', count: 3, active: 3, erred: 0 },
          { slice: 'c0d1s7', count: 3, active: 0, erred: 3 },
        ],
      });
    });

    it('makes command.progress from its plan step results, each with its plan as planid', async () => {
      const answer = await collect(
        GUEST,
        guestToken,
        collectBody(
          { seq: 3, time: at(60), extra: ['planid=pln-7a1b'] },
          {
            progress: [
              'pln-7a1b\t0\tdisk.probe\tstarted',
              'pln-7a1b\t0\tdisk.probe\tsucceeded\t\tsteps',
              'pln-7a1b\t1\tsvm.metareplace\trefused\tother-submirror-not-okay\tfast',
              '',
            ].join('\n'),
            metastat: METASTAT_RESYNCING,
          },
        ),
      );
      expect(answer.status).toBe(202);
      const events = answer.body.events as FaultlineEvent[];
      expect(events.slice(0, 3).map(said)).toEqual([
        {
          type: 'command.progress',
          subject: GUEST,
          planid: 'pln-7a1b',
          data: { planId: 'pln-7a1b', step: 0, action: 'disk.probe', outcome: 'started' },
        },
        {
          type: 'command.progress',
          subject: GUEST,
          planid: 'pln-7a1b',
          data: { planId: 'pln-7a1b', step: 0, action: 'disk.probe', outcome: 'succeeded', branch: 'steps' },
        },
        {
          type: 'command.progress',
          subject: GUEST,
          planid: 'pln-7a1b',
          data: {
            planId: 'pln-7a1b',
            step: 1,
            action: 'svm.metareplace',
            outcome: 'refused',
            code: 'other-submirror-not-okay',
            branch: 'fastPath',
          },
        },
      ]);
      // The storage changes of a collect made while a plan ran carry its id, as the Node agent's do.
      expect(
        events.filter((event) => event.type === 'mirror.recovering').map((event) => event.planid),
      ).toEqual(['pln-7a1b', 'pln-7a1b']);
    });

    it('announces nothing for a guest going down (it serves nothing), and heartbeats its last snapshot', async () => {
      await collect(GUEST, guestToken, collectBody({ seq: 1, time: at(60) }, { metastat: METASTAT_OKAY }));
      const answer = await collect(
        GUEST,
        guestToken,
        collectBody({ seq: 2, time: at(120) }, { announce: 'going-down init 6' }),
      );
      expect(answer.status).toBe(202);
      expect(answer.body.events.map((event: FaultlineEvent) => event.type)).toEqual(['host.heartbeat']);
      expect(answer.body.notes).toContain(
        'nothing to announce: this host (role client) serves no failure domain',
      );
    });
  });

  describe('from a control domain', () => {
    it('makes its heartbeat with serves and guests, its own boot once, and domain.going-down and domain.rebooted for the alternate', async () => {
      await registerControl();
      const post = (seq: number, ldmList: string, extra: Record<string, string> = {}) =>
        collect(
          CONTROL,
          controlToken,
          collectBody(
            { seq, time: at(seq * 60), role: 'control' },
            { 'ldm-list': ldmList, 'ldm-disks': LDM_DISKS, ...extra },
          ),
        );

      const first = await post(1, LDM_LIST);
      expect(first.status).toBe(202);
      expect(first.body.rejected).toEqual([]);
      const [own, heartbeat] = first.body.events as FaultlineEvent[];
      expect(own && said(own)).toEqual({
        type: 'domain.rebooted',
        subject: 'primary',
        data: { domain: 'primary', role: 'primary', failureDomain: PRIMARY, bootedAt: BOOTED_AT },
      });
      expect(heartbeat?.type === 'host.heartbeat' && heartbeat.data).toMatchObject({
        role: 'control',
        bootedAt: BOOTED_AT,
        serves: [PRIMARY, ALTERNATE],
        guests: [
          { guest: 'ldg1', disk: 'c0d0', failureDomain: PRIMARY, state: 'active' },
          { guest: 'ldg1', disk: 'c0d1', failureDomain: PRIMARY, state: 'active' },
          { guest: 'ldg1', disk: 'c0d2', failureDomain: ALTERNATE, state: 'active' },
          { guest: 'ldg2', disk: 'c0d0', failureDomain: PRIMARY, state: 'bound' },
        ],
      });

      const stopped = await post(2, LDM_LIST_ALTERNATE_STOPPED);
      expect((stopped.body.events as FaultlineEvent[]).map(said)).toEqual([
        {
          type: 'domain.going-down',
          subject: 'alternate',
          data: { failureDomain: ALTERNATE, reason: 'service domain alternate is bound' },
        },
        expect.objectContaining({
          type: 'host.heartbeat',
          data: expect.objectContaining({ serves: [PRIMARY] }),
        }),
      ]);

      // At seq 5 (03:05) the alternate has run for two minutes: it booted at 03:03.
      const back = await post(5, ldmListAlternateUp(120));
      expect((back.body.events as FaultlineEvent[]).map(said)[0]).toEqual({
        type: 'domain.rebooted',
        subject: 'alternate',
        data: { domain: 'alternate', role: 'alternate', failureDomain: ALTERNATE, bootedAt: at(300 - 120) },
      });
      expect(back.body.accepted).toHaveLength(2);

      const quiet = await post(6, ldmListAlternateUp(180));
      expect((quiet.body.events as FaultlineEvent[]).map((event) => event.type)).toEqual(['host.heartbeat']);

      // A reboot of the control domain itself: a new boot, its own domain.rebooted once more.
      const rebooted = await collect(
        CONTROL,
        controlToken,
        collectBody(
          { seq: 7, time: at(420), role: 'control', bootid: 'boot-after', bootedAt: at(400) },
          { 'ldm-list': ldmListAlternateUp(240), 'ldm-disks': LDM_DISKS },
        ),
      );
      expect((rebooted.body.events as FaultlineEvent[]).map(said)[0]).toEqual({
        type: 'domain.rebooted',
        subject: 'primary',
        data: { domain: 'primary', role: 'primary', failureDomain: PRIMARY, bootedAt: at(400) },
      });
    });

    it('announces its own domain going down at its shutdown, within its grant', async () => {
      await registerControl();
      await collect(
        CONTROL,
        controlToken,
        collectBody(
          { seq: 1, time: at(60), role: 'control' },
          { 'ldm-list': LDM_LIST, 'ldm-disks': LDM_DISKS },
        ),
      );
      // The shutdown script sends the announcement alone; what it serves is remembered.
      const answer = await collect(
        CONTROL,
        controlToken,
        collectBody({ seq: 2, time: at(120), role: 'control' }, { announce: 'going-down firmware update' }),
      );
      expect(answer.status).toBe(202);
      const events = answer.body.events as FaultlineEvent[];
      expect(events.map(said).at(-1)).toEqual({
        type: 'domain.going-down',
        subject: CONTROL,
        data: { failureDomain: PRIMARY, reason: 'firmware update' },
      });
      expect(answer.body.accepted).toEqual(events.map((event) => event.id));
    });

    it('is judged against its grant: a control domain nobody registered is a client, whatever it says', async () => {
      const answer = await collect(
        CONTROL,
        controlToken,
        collectBody(
          { seq: 1, time: at(60), role: 'control' },
          { 'ldm-list': LDM_LIST, 'ldm-disks': LDM_DISKS },
        ),
      );
      expect(answer.status).toBe(202);
      expect(answer.body.accepted).toEqual([]);
      expect(
        answer.body.rejected.map((entry: { index: number; issues: { code: string }[] }) => [
          entry.index,
          entry.issues.map((issue) => issue.code),
        ]),
      ).toEqual([
        [0, ['role-not-granted']],
        [1, expect.arrayContaining(['role-not-granted'])],
      ]);
      expect(await api.drain()).toEqual([]);
      expect(api.logs).toContainEqual(
        expect.objectContaining({ msg: 'events refused beyond the grant', hostId: CONTROL }),
      );
    });
  });

  describe('order and repetition', () => {
    const step = (seq: number, metastat = METASTAT_NEEDS_MAINTENANCE) =>
      collectBody({ seq, time: at(seq < 1000 ? seq * 60 : 60) }, { metastat, metadb: METADB_IN_ERROR });

    it('makes the same events again for a collect sent again, and none for an older one', async () => {
      await collect(GUEST, guestToken, step(1, METASTAT_OKAY));
      const first = await collect(GUEST, guestToken, step(2));
      expect(first.body.events.map((event: FaultlineEvent) => event.type)).toEqual([
        'mirror.degraded',
        'mirror.degraded',
        'host.heartbeat',
      ]);
      const again = await collect(GUEST, guestToken, step(2));
      expect(again.status).toBe(202);
      expect(again.body.outcome).toBe('again');
      expect(again.body.events).toEqual(first.body.events);
      expect(again.body.accepted).toEqual(first.body.accepted);

      const older = await collect(GUEST, guestToken, step(1, METASTAT_OKAY));
      expect(older.status).toBe(202);
      expect(older.body).toMatchObject({ outcome: 'older', events: [], accepted: [] });
      // Another body under a seq already used is not the same collect: nothing.
      const reused = await collect(GUEST, guestToken, step(2, METASTAT_OKAY));
      expect(reused.body).toMatchObject({ outcome: 'older', events: [] });

      // The memory moved on only with the new collects: the next one diffs against seq 2.
      const next = await collect(GUEST, guestToken, step(3, METASTAT_RESYNCING));
      expect(next.body.events.map((event: FaultlineEvent) => `${event.type}:${event.subject}`)).toEqual([
        'mirror.recovering:d0',
        'mirror.recovering:d1',
        `host.heartbeat:${GUEST}`,
      ]);
      const queuedIds = (await api.drain()).map((message) => message.body.id);
      // Correlate receives the re-sent events under the same ids, and applies each once.
      expect(queuedIds.filter((id) => id === first.body.accepted[0])).toHaveLength(2);
    });

    it('numbers the events of collects one seq apart above the earlier ones, the same way when sent again', async () => {
      const first = await collect(GUEST, guestToken, step(micros(60), METASTAT_OKAY));
      const bodies = [step(micros(60) + 1), step(micros(60) + 2, METASTAT_RESYNCING)];
      const second = await collect(GUEST, guestToken, bodies[0] as string);
      const third = await collect(GUEST, guestToken, bodies[1] as string);
      const seqs = [first, second, third].flatMap((answer) =>
        (answer.body.events as FaultlineEvent[]).map((event) => event.seq),
      );
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, n) => micros(60) + n));
      expect(third.body.events[0].id).toBe(`${GUEST}:${BOOT}:${micros(60) + 2}:0`);
      const again = await collect(GUEST, guestToken, bodies[1] as string);
      expect(again.body).toMatchObject({ outcome: 'again', events: third.body.events });
    });

    it('starts detection afresh in a new boot, and reports the faults present', async () => {
      await collect(GUEST, guestToken, step(1));
      const sameBoot = await collect(GUEST, guestToken, step(2));
      expect(sameBoot.body.events.map((event: FaultlineEvent) => event.type)).toEqual(['host.heartbeat']);
      const newBoot = await collect(
        GUEST,
        guestToken,
        collectBody({ seq: 3, time: at(180), bootid: 'boot-next' }, { metastat: METASTAT_NEEDS_MAINTENANCE }),
      );
      expect(newBoot.body.events.map((event: FaultlineEvent) => event.type)).toEqual([
        'mirror.degraded',
        'mirror.degraded',
        'host.heartbeat',
      ]);
      expect(newBoot.body.events[0].id).toBe(`${GUEST}:boot-next:3:0`);
    });

    it("refuses another host's token (403) and accepts an operator's", async () => {
      const other = await collect(CONTROL, guestToken, step(1));
      expect(other.status).toBe(403);
      expect(other.body.error.code).toBe('forbidden');
      expect(await api.store.getCollect(CONTROL)).toBeUndefined();
      const operator = await collect(GUEST, OPERATOR_SECRET, step(1));
      expect(operator.status).toBe(202);
      expect((await api.drain()).every((message) => message.body.sentby === 'operator:ops')).toBe(true);
    });
  });

  describe('hostile input', () => {
    const firstCollect = async () => {
      const first = await collect(
        GUEST,
        guestToken,
        collectBody({ seq: 1, time: at(60) }, { metastat: METASTAT_OKAY }),
      );
      expect(first.status).toBe(202);
      await api.drain();
      return api.store.getCollect(GUEST);
    };

    it('reads shell metacharacters in tool output as text, never running them', async () => {
      const canary = join(scratch, 'canary-ran');
      const hostile = [
        `d0: Mirror $(touch ${canary})`,
        `    Submirror 0: d10; touch ${canary}`,
        `      State: \`touch ${canary}\` | rm -rf / && reboot`,
        '    Submirror 1: d20 > /etc/passwd',
        ['\'"$IFS$', '{PATH}<>&|*?[]!#~'].join(''),
      ].join('\n');
      const answer = await collect(
        GUEST,
        guestToken,
        collectBody(
          { seq: 1, time: at(60) },
          { metastat: hostile, metadb: `$(touch ${canary})`, 'ldm-list': '`id`' },
        ),
      );
      expect(answer.status).toBe(202);
      expect(answer.body.notes.length).toBeGreaterThan(0);
      expect(answer.body.events.map((event: FaultlineEvent) => event.type)).toEqual(['host.heartbeat']);
      expect(existsSync(canary)).toBe(false);
    });

    it('refuses shell metacharacters where the agent writes the values itself (host, progress)', async () => {
      const stored = await firstCollect();
      for (const body of [
        collectBody({ seq: 2, time: at(120), bootid: 'boot;reboot' }),
        collectBody({ seq: 2, time: '$(date)' }),
        collectBody({ seq: 2, time: at(120) }, { progress: 'pln-1;rm\t0\tdisk.probe\tstarted\n' }),
        collectBody({ seq: 2, time: at(120) }, { progress: 'pln-1\t0\t`reboot`\tstarted\n' }),
      ]) {
        const answer = await collect(GUEST, guestToken, body);
        expect(answer.status, body).toBe(400);
        expect(answer.body.error.code).toBe('invalid-request');
        expect(answer.body.error.issues.length).toBeGreaterThan(0);
      }
      expect(await api.store.getCollect(GUEST)).toEqual(stored);
      expect(await api.drain()).toEqual([]);
    });

    it('parses 10,000 lines of tool output in bounded time, with bounded notes', async () => {
      const lines = (count: number) =>
        Array.from({ length: count }, (_, n) =>
          n % 3 === 0
            ? `d${n}: Mirror`
            : n % 3 === 1
              ? `    Submirror 0: d${n}`
              : `  a ${'a '.repeat(n % 40)}|=`,
        ).join('\n');
      const started = Date.now();
      const answer = await collect(
        GUEST,
        guestToken,
        collectBody(
          { seq: 1, time: at(60) },
          {
            metastat: lines(10_000),
            metadb: lines(2_000),
            'ldm-list': lines(2_000),
            'ldm-disks': lines(2_000),
          },
        ),
      );
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(answer.status).toBe(202);
      expect(answer.body.notes.length).toBeLessThanOrEqual(50);
    });

    it('reads half a megabyte of the worst line shapes in each tool section quickly, and refuses longer lines', async () => {
      await registerControl();
      let seq = 0;
      for (const name of ['metastat', 'metadb', 'ldm-list', 'ldm-disks'] as const) {
        const max = COLLECT_LIMITS.maxLineChars[name];
        const shapes = [
          `a${' '.repeat(max - 2)}x`,
          'a '.repeat(max / 2),
          `a ${'1 '.repeat(max / 2 - 1)}`,
          `DOMAIN|${'name=a|'.repeat(Math.floor((max - 7) / 7))}`,
          `d0: ${': '.repeat(max / 2 - 2)}`,
          `    Submirror 0: ${'d1 '.repeat(Math.floor((max - 20) / 3))}`,
        ];
        for (const line of shapes) {
          const text = `${line}\n`.repeat(Math.floor(500_000 / (line.length + 1)));
          const sections = { 'ldm-list': LDM_LIST, 'ldm-disks': LDM_DISKS, [name]: text };
          seq += 1;
          const started = Date.now();
          const answer = await collect(
            CONTROL,
            controlToken,
            collectBody({ seq, time: at(60 * seq), role: 'control' }, sections),
          );
          expect(Date.now() - started, `${name}: ${line.slice(0, 20)}`).toBeLessThan(2_000);
          expect(answer.status).toBe(202);
          expect(answer.body.outcome).toBe('new');
        }
        const longer = await collect(
          CONTROL,
          controlToken,
          collectBody({ seq: 1, time: at(60), role: 'control' }, { [name]: `${' '.repeat(max + 1)}\n` }),
        );
        expect(longer.status).toBe(400);
        expect(longer.body.error.issues[0].code).toBe('too_big');
      }
    });

    it('refuses binary garbage whole (400) and applies nothing', async () => {
      const stored = await firstCollect();
      const garbage = Buffer.concat([
        Buffer.from(collectBody({ seq: 2, time: at(120) }, { metastat: 'd0: Mirror' })),
        Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80]),
      ]);
      const answer = await collect(GUEST, guestToken, garbage);
      expect(answer.status).toBe(400);
      expect(answer.body.error.issues[0].code).toBe('not-text');
      const nul = await collect(
        GUEST,
        guestToken,
        `${collectBody({ seq: 2, time: at(120) })}agentVersion=1\u0000\n`,
      );
      expect(nul.status).toBe(400);
      expect(await api.store.getCollect(GUEST)).toEqual(stored);
    });

    it('refuses an oversized section, a section twice, a stray header and a body with no host section', async () => {
      const stored = await firstCollect();
      const oversized = collectBody(
        { seq: 2, time: at(120) },
        {
          metastat: `${'d0: Mirror\n'.repeat(60_000)}`,
          metadb: METADB_HEALTHY,
        },
      );
      const answer = await collect(GUEST, guestToken, oversized);
      expect(answer.status).toBe(400);
      expect(answer.body.error.issues).toEqual([
        expect.objectContaining({ path: ['metastat', 10], code: 'too_big' }),
      ]);
      const twice = `${collectBody({ seq: 2, time: at(120) }, { metastat: METASTAT_OKAY })}#faultline metastat\nd0: Mirror\n`;
      expect((await collect(GUEST, guestToken, twice)).body.error.issues[0].code).toBe('repeated');
      const stray = collectBody({ seq: 2, time: at(120) }, { metastat: METASTAT_OKAY }).replace(
        '#faultline metastat',
        '#faultline meta stat',
      );
      expect((await collect(GUEST, guestToken, stray)).body.error.issues[0].code).toBe('bad-header');
      expect(
        (await collect(GUEST, guestToken, '#faultline metastat\nd0: Mirror\n')).body.error.issues,
      ).toEqual([expect.objectContaining({ path: ['host'], code: 'missing' })]);
      const tooMuchProgress = collectBody(
        { seq: 2, time: at(120) },
        {
          progress: 'pln-1\t0\tdisk.probe\tstarted\n'.repeat(10_000),
        },
      );
      expect((await collect(GUEST, guestToken, tooMuchProgress)).body.error.issues[0].code).toBe('too_big');
      expect(await api.store.getCollect(GUEST)).toEqual(stored);
      expect(await api.drain()).toEqual([]);
    });

    it('refuses a body over 1 MiB (413) before reading it, and a JSON body (415)', async () => {
      const huge = collectBody({ seq: 2, time: at(120) }, { metastat: 'x'.repeat(1024 * 1024) });
      const answer = await collect(GUEST, guestToken, huge);
      expect(answer.status).toBe(413);
      expect(answer.body.error.code).toBe('payload-too-large');
      const json = await collect(GUEST, guestToken, '{"seq":1}', 'application/json');
      expect(json.status).toBe(415);
    });

    it('answers mutated collects of the real tool outputs with 202 or 400 and a reason, never a 5xx', async () => {
      await registerControl();
      const sources = [METASTAT_NEEDS_MAINTENANCE, METASTAT_RESYNCING, METADB_IN_ERROR, LDM_LIST, LDM_DISKS];
      const mutated = (text: string) =>
        fc
          .tuple(
            fc.nat(),
            fc.constantFrom('flip', 'cut', 'repeat', 'shuffle', 'splice'),
            fc.string({ maxLength: 12 }),
          )
          .map(([at, how, piece]) => {
            const lines = text.split('\n');
            const n = at % Math.max(1, lines.length);
            if (how === 'flip')
              return text.slice(0, at % text.length) + piece + text.slice((at % text.length) + 1);
            if (how === 'cut') return lines.slice(0, n).join('\n');
            if (how === 'repeat') return [...lines, ...lines.slice(n)].join('\n');
            if (how === 'shuffle') return [...lines.slice(n), ...lines.slice(0, n)].join('\n');
            return [...lines.slice(0, n), piece, ...lines.slice(n)].join('\n');
          });
      const sectionArbitrary = fc.dictionary(
        fc.constantFrom(
          'metastat',
          'metastat-c',
          'metadb',
          'ldm-list',
          'ldm-disks',
          'progress',
          'announce',
          'other',
        ),
        fc.constantFrom(...sources).chain(mutated),
        { maxKeys: 5 },
      );
      let seq = 0;
      const statuses = new Set<number>();
      await fc.assert(
        fc.asyncProperty(
          sectionArbitrary,
          fc.constantFrom('client' as const, 'control' as const),
          async (sections, role) => {
            seq += 1;
            const answer = await collect(
              CONTROL,
              controlToken,
              collectBody({ seq, time: at(seq), role }, sections),
            );
            statuses.add(answer.status);
            if (answer.status === 202) return Array.isArray(answer.body.events);
            return (
              answer.status === 400 &&
              answer.body.error.message.length > 0 &&
              answer.body.error.issues.length > 0
            );
          },
        ),
        { numRuns: 300 },
      );
      expect([...statuses].sort()).toEqual([202, 400]);
      expect(api.logs.filter((entry) => entry.level === 'error')).toEqual([]);
    });

    it('ignores an unknown section, and reads a body labelled as curl and wget label it', async () => {
      const answer = await collect(
        GUEST,
        guestToken,
        collectBody(
          { seq: 1, time: at(60) },
          { 'zfs-list': 'rpool 12G\n$(reboot)\n', metastat: METASTAT_OKAY },
        ),
        'application/x-www-form-urlencoded',
      );
      expect(answer.status).toBe(202);
      expect(answer.body.ignored).toEqual(['zfs-list']);
      expect(answer.body.events.map((event: FaultlineEvent) => event.type)).toEqual(['host.heartbeat']);
    });
  });
});
