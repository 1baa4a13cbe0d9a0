import { describe, expect, it } from 'vitest';
import { COUNTDOWN_STEP_SECONDS, LiveView } from '../../../cli/demo/live-view.ts';
import { DEFAULT_STABILITY_TIMINGS, type StabilityTimings } from '../../../cli/demo/stability-countdown.ts';
import { healText, incidentTimes } from '../../../cli/demo/time-to-heal.ts';
import type { IncidentSummary } from '../../../sim/control-plane-client.ts';

/**
 * The demo's live view while a domain that is back waits out its stability period: a countdown to
 * the moment its plans go out, on a clock the test moves (nothing here waits), and one time to
 * heal per incident, the control plane's own.
 */

const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';
const SAN_PORT = 'fc:500507680b22ac1c';
const UP_AT = Date.parse('2026-11-22T03:36:03.000Z');
const at = (ms: number): string => new Date(ms).toISOString();

const incident = (overrides: Partial<IncidentSummary> = {}): IncidentSummary => ({
  id: 'inc-3f38a5dfc4314f950697',
  kind: 'outage',
  failureDomain: VIOS2,
  status: 'remediating',
  escalated: false,
  affectedHosts: 42,
  openedAt: at(UP_AT - 60_000),
  resolvedAt: null,
  summary: 'vios2 is down',
  paged: true,
  downAt: at(UP_AT - 60_500),
  upAt: at(UP_AT),
  detectedAt: at(UP_AT - 59_800),
  revision: 3,
  ...overrides,
});

/** A view on a clock the test moves, writing into `output`. */
const viewAt = (tty: boolean, timings: StabilityTimings = DEFAULT_STABILITY_TIMINGS) => {
  const clock = { now: UP_AT };
  const output: string[] = [];
  const view = new LiveView(
    (text) => output.push(text),
    tty,
    () => [],
    () => [],
    { timings, now: () => clock.now },
  );
  /** Moves the clock one second at a time to `seconds` after the domain came up, ticking each. */
  const runTo = (seconds: number) => {
    while (clock.now < UP_AT + seconds * 1000) {
      clock.now += 1000;
      view.tick();
    }
  };
  const lines = () =>
    output
      .join('')
      .split('\n')
      .filter((line) => line !== '');
  return { view, clock, output, runTo, lines };
};

/** The story's lines without their clock. */
const said = (lines: string[]) => lines.map((line) => line.slice('03:36:03  '.length));

describe('the stability countdown', () => {
  it('says, line by line with no escape codes, how long until the domain is stable and its plans go out', () => {
    const { view, clock, runTo, lines, output } = viewAt(false);
    clock.now = UP_AT + 2000;
    view.watch(incident());
    // Polled again meanwhile: the same countdown, not a new one.
    view.watch(incident());
    runTo(61);
    expect(said(lines())).toEqual([
      `${VIOS2} is back (up since 03:36:03): stable in 58 s, at 03:37:03; then its plans go out, a canary first`,
      ...[50, 40, 30, 20, 10].map(
        (left) => `${VIOS2}: stable in ${left} s; then its plans go out, a canary first`,
      ),
      `${VIOS2} is stable: its plans go out, a canary first`,
    ]);
    expect(lines()[0]?.startsWith('03:36:05  ')).toBe(true);
    expect(lines().at(-1)?.startsWith('03:37:03  ')).toBe(true);
    expect(output.join('')).not.toContain('\x1b');
    expect(COUNTDOWN_STEP_SECONDS).toBe(10);
  });

  it('waits for multipathd first where paths were lost, and names the approval a wave in approve mode waits for', () => {
    const timings: StabilityTimings = {
      ...DEFAULT_STABILITY_TIMINGS,
      runbooks: { ...DEFAULT_STABILITY_TIMINGS.runbooks, multipath: 'approve' },
    };
    const { view, lines } = viewAt(false, timings);
    view.watch(incident({ id: 'inc-san', failureDomain: SAN_PORT }), true);
    expect(said(lines())).toEqual([
      `${SAN_PORT} is back (up since 03:36:03): stable in 120 s, at 03:38:03; then its plans wait for \`faultline approve inc-san\``,
    ]);
  });

  it('ends without a word once the incident resolved, and starts again when the domain comes back anew', () => {
    const { view, clock, runTo, lines } = viewAt(false);
    view.watch(incident());
    runTo(15);
    view.watch(incident({ status: 'resolved', resolvedAt: at(clock.now) }));
    runTo(70);
    expect(said(lines())).toEqual([
      `${VIOS2} is back (up since 03:36:03): stable in 60 s, at 03:37:03; then its plans go out, a canary first`,
      `${VIOS2}: stable in 50 s; then its plans go out, a canary first`,
    ]);
    view.watch(incident({ upAt: at(clock.now) }));
    expect(said(lines()).at(-1)).toMatch(/ is back \(up since 03:37:13\): stable in 60 s, at 03:38:13;/);
  });

  it('stops counting, without a word, while the control plane has halted the domain', () => {
    const { view, runTo, lines } = viewAt(false);
    view.watch(incident());
    view.watch(incident({ status: 'halted' }));
    runTo(70);
    expect(lines()).toHaveLength(1);
  });

  it('says nothing when first seen past its stability period: the plans already go out', () => {
    const { view, clock, lines } = viewAt(false);
    clock.now = UP_AT + 61_000;
    view.watch(incident());
    view.tick();
    expect(lines()).toEqual([]);
  });

  it('shows the countdown as a line of the board on a terminal', () => {
    const { view, clock, output } = viewAt(true);
    view.start();
    view.watch(incident());
    clock.now = UP_AT + 17_400;
    view.stop();
    const frame = output.at(-1) ?? '';
    expect(frame).toContain(`${VIOS2}: stable in 43 s; then its plans go out, a canary first`);
  });
});

describe('the time to heal the demo shows', () => {
  it('is the control plane’s own, from its up to resolved, in the live view’s board as in the summary', () => {
    const resolved = incident({ status: 'resolved', resolvedAt: at(UP_AT + 225_640) });
    expect(incidentTimes(resolved)).toEqual({ detectSeconds: 0.7, healSeconds: 225.6 });
    expect(healText(resolved)).toBe('time to heal 225.6 s (up 03:36:03 → resolved 03:39:48)');
    const { view, output } = viewAt(true);
    view.start();
    view.incident = resolved;
    view.stop();
    expect(output.at(-1)).toContain(`42 host(s)  ${healText(resolved)}`);
  });

  it('counts from the opening when the control plane never saw the server back', () => {
    const resolved = incident({ upAt: null, status: 'resolved', resolvedAt: at(UP_AT + 30_000) });
    expect(incidentTimes(resolved).healSeconds).toBe(90);
    expect(healText(resolved)).toBe('time to heal 90 s (opened 03:35:03 → resolved 03:36:33)');
    expect(healText(incident())).toBe('not healed yet');
  });
});
