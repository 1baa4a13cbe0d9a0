import { describe, expect, it } from 'vitest';
import type { IncidentBody, TimelineEntryBody } from '../../events/index.ts';
import { healChart, healthySteps, momentsOf, timelineChart } from '../../web/charts.ts';

/** The page's charts: what an incident's timeline marks, and that the SVG says it in words too. */

const INCIDENT = 'inc-chart0000000000001';
let sequence = 0;
const entry = (
  at: string,
  text: string,
  kind?: TimelineEntryBody['kind'],
  hostId?: string,
): TimelineEntryBody => {
  sequence += 1;
  return {
    id: `tl-${sequence}`,
    incidentId: INCIDENT,
    at,
    text,
    ...(kind === undefined ? {} : { kind }),
    ...(hostId === undefined ? {} : { hostId }),
  };
};

const TIMELINE: TimelineEntryBody[] = [
  entry('2026-11-22T03:00:00.000Z', 'vscsi:S/vios2 down: IPL', 'down'),
  entry('2026-11-22T03:00:00.000Z', 'h1 affected', undefined, 'h1'),
  entry('2026-11-22T03:00:05.000Z', 'dispatch paused by an operator (cmd-1)', 'operator'),
  entry('2026-11-22T03:05:00.000Z', 'vscsi:S/vios2 up since …', 'up'),
  entry('2026-11-22T03:06:00.000Z', 'canary plan pln-1 (execute) for h1: 11 steps', 'canary', 'h1'),
  entry('2026-11-22T03:06:30.000Z', 'h1 healthy (mirror.healthy)', 'healthy', 'h1'),
  entry('2026-11-22T03:06:31.000Z', 'wave 1 plan pln-2 (execute) for h2: 11 steps', 'wave', 'h2'),
  entry('2026-11-22T03:06:31.000Z', 'wave 1 plan pln-3 (execute) for h3: 11 steps', 'wave', 'h3'),
  entry('2026-11-22T03:07:00.000Z', 'h2 healthy (mirror.healthy)', 'healthy', 'h2'),
  entry('2026-11-22T03:07:10.000Z', 'wave 0 approved (cmd-2)', 'operator'),
  entry('2026-11-22T03:08:00.000Z', 'dispatch resumed by alice (tok-0123456789abcdef, cmd-3)', 'operator'),
];

const incident: IncidentBody = {
  id: INCIDENT,
  kind: 'outage',
  failureDomain: 'vscsi:S/vios2',
  status: 'remediating',
  escalated: false,
  affectedHosts: 3,
  openedAt: '2026-11-22T03:00:00.000Z',
  resolvedAt: null,
  summary: 'vios2 is down',
  paged: false,
  downAt: '2026-11-22T03:00:00.000Z',
  upAt: '2026-11-22T03:05:00.000Z',
  detectedAt: '2026-11-22T03:00:01.000Z',
  revision: 3,
};

describe("an incident's timeline chart", () => {
  it('marks each wave once, with its plans counted, and names operators’ actions without their ids', () => {
    expect(momentsOf(TIMELINE).map((moment) => moment.label)).toEqual([
      'down',
      'dispatch paused',
      'up',
      'canary: h1',
      'wave 1: 2 plans',
      'wave 0 approved',
      'dispatch resumed by alice',
    ]);
    expect(healthySteps(TIMELINE)).toEqual([
      Date.parse('2026-11-22T03:06:30.000Z'),
      Date.parse('2026-11-22T03:07:00.000Z'),
    ]);
  });

  it('draws the marks and the healthy line on the scale of the hosts affected, and says so in words', () => {
    const svg = String(timelineChart(incident, TIMELINE, Date.parse('2026-11-22T03:10:00.000Z')));
    expect(svg.match(/<circle class="m-wave"/g)).toHaveLength(1);
    expect(svg.match(/<circle class="m-canary"/g)).toHaveLength(1);
    expect(svg).toContain('2 of 3 healthy');
    expect(svg).toContain(
      '<desc id="tl-desc">7 moments from 03:00:00 to 03:10:00 UTC; 2 of 3 hosts healthy again',
    );
  });

  it('labels the bars of time to detect and to heal with their values', () => {
    const svg = String(
      healChart([
        {
          failureDomain: 'vscsi:S/vios2',
          incidents: 2,
          open: 0,
          resolved: 2,
          affectedHosts: 40,
          timeToDetect: { count: 2, meanSeconds: 4, maxSeconds: 6 },
          timeToHeal: { count: 2, meanSeconds: 450, maxSeconds: 600 },
        },
      ]),
    );
    expect(svg).toContain('detect 4 s');
    expect(svg).toContain('heal 7.5 min');
  });
});
