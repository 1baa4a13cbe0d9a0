import { html } from 'hono/html';
import type { IncidentBody, StatsBody, TimelineEntryBody } from '../events/index.ts';
import type { Fragment } from './layout.ts';

/**
 * The page's two charts, drawn on the server as SVG (no script, no library): an incident's
 * timeline on a time axis, and time to detect and to heal per failure domain. Each has a title
 * and a description for screen readers, and the page lists what it draws as text beside it.
 */

/** A moment drawn on the timeline: what it is, when, and the words shown with it. */
export interface Moment {
  readonly kind: NonNullable<TimelineEntryBody['kind']>;
  readonly at: number;
  readonly label: string;
}

const WAVE = /^wave (\d+) /;

/**
 * The moments of an incident worth a mark, from its timeline: the domain down and up, the canary,
 * each wave once (its first plan, with how many plans it sent), halts, escalations, operators'
 * actions and the resolve. Hosts healthy are drawn as a line, not marks (an outage may have
 * thousands).
 */
export const momentsOf = (entries: readonly TimelineEntryBody[]): Moment[] => {
  const moments: Moment[] = [];
  const waves = new Map<number, { at: number; plans: number; index: number }>();
  for (const entry of entries) {
    const at = Date.parse(entry.at);
    switch (entry.kind) {
      case undefined:
      case 'healthy':
        continue;
      case 'canary':
        moments.push({ kind: 'canary', at, label: `canary: ${entry.hostId ?? 'a host'}` });
        continue;
      case 'wave': {
        const wave = Number(WAVE.exec(entry.text)?.[1] ?? Number.NaN);
        const known = waves.get(wave);
        if (known !== undefined) {
          known.plans += 1;
          continue;
        }
        waves.set(wave, { at, plans: 1, index: moments.length });
        moments.push({ kind: 'wave', at, label: Number.isNaN(wave) ? 'wave' : `wave ${wave}` });
        continue;
      }
      case 'down':
        moments.push({ kind: 'down', at, label: entry.text.includes('flap') ? 'down again' : 'down' });
        continue;
      case 'up':
        moments.push({ kind: 'up', at, label: 'up' });
        continue;
      case 'operator':
        // "dispatch paused by an operator (cmd-…)" reads "dispatch paused" on the axis, and
        // "dispatch paused by alice (tok-…, cmd-…)" reads "dispatch paused by alice".
        moments.push({
          kind: 'operator',
          at,
          label: entry.text.replace(/ by an operator.*$| \((?:tok-[0-9a-f]{16}, )?cmd-[^)]*\)$/, ''),
        });
        continue;
      default:
        moments.push({ kind: entry.kind, at, label: entry.kind });
    }
  }
  for (const [wave, { plans, index }] of waves) {
    const moment = moments[index];
    if (moment !== undefined)
      moments[index] = { ...moment, label: `wave ${wave}: ${plans} plan${plans === 1 ? '' : 's'}` };
  }
  return moments.sort((a, b) => a.at - b.at);
};

/** The count of hosts healthy again over time: a step at each `healthy` entry. */
export const healthySteps = (entries: readonly TimelineEntryBody[]): number[] =>
  entries
    .filter((entry) => entry.kind === 'healthy')
    .map((entry) => Date.parse(entry.at))
    .sort((a, b) => a - b);

const WIDTH = 880;
const LEFT = 110;
const RIGHT = 20;
const LANE_MARKS = 50;
const LANE_HEALTHY_TOP = 110;
const LANE_HEALTHY_HEIGHT = 70;
const AXIS = 200;
const HEIGHT = 236;

const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);

/** Round ticks for a span of time: at most about six, on whole seconds, minutes or hours. */
const ticksOf = (from: number, to: number): number[] => {
  const span = Math.max(1, to - from);
  const steps = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map(
    (seconds) => seconds * 1000,
  );
  const step =
    steps.find((candidate) => span / candidate <= 6) ?? 86400_000 * Math.ceil(span / 86400_000 / 6);
  const ticks: number[] = [];
  for (let tick = Math.ceil(from / step) * step; tick <= to; tick += step) ticks.push(tick);
  return ticks;
};

/**
 * The incident's timeline on a time axis: marks for the moments (each with its label, staggered so
 * neighbours do not overlap), and below them the hosts healthy again as a rising line.
 */
export const timelineChart = (
  incident: IncidentBody,
  entries: readonly TimelineEntryBody[],
  now: number,
): Fragment => {
  const moments = momentsOf(entries);
  const healthy = healthySteps(entries);
  const times = [
    Date.parse(incident.openedAt),
    ...(incident.downAt === undefined ? [] : [Date.parse(incident.downAt)]),
    ...moments.map((moment) => moment.at),
    ...healthy,
  ];
  const from = Math.min(...times);
  const end = incident.resolvedAt === null ? now : Date.parse(incident.resolvedAt);
  const to = Math.max(from + 1000, end, ...times);
  const x = (ms: number): number => LEFT + ((ms - from) / (to - from)) * (WIDTH - LEFT - RIGHT);
  const ticks = ticksOf(from, to);
  const total = healthy.length;
  // On the scale of the hosts affected: a line that stops short says some are not healthy yet.
  const scale = Math.max(total, incident.affectedHosts, 1);
  const y = (count: number): number =>
    LANE_HEALTHY_TOP + LANE_HEALTHY_HEIGHT - (count / scale) * LANE_HEALTHY_HEIGHT;
  let path = `M${x(from).toFixed(1)},${y(0).toFixed(1)}`;
  healthy.forEach((at, index) => {
    path += ` H${x(at).toFixed(1)} V${y(index + 1).toFixed(1)}`;
  });
  path += ` H${x(to).toFixed(1)}`;
  const summary = `${moments.length} moments from ${clock(from)} to ${clock(to)} UTC; ${total} of ${
    incident.affectedHosts
  } host${incident.affectedHosts === 1 ? '' : 's'} healthy again`;
  return html`<figure>
<svg role="img" aria-labelledby="tl-title tl-desc" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" preserveAspectRatio="xMinYMin meet">
<title id="tl-title">Timeline of ${incident.id}</title>
<desc id="tl-desc">${summary}. The same moments are listed in the table below.</desc>
<text x="4" y="${LANE_MARKS + 4}">events</text>
<text x="4" y="${LANE_HEALTHY_TOP + LANE_HEALTHY_HEIGHT / 2}">hosts healthy</text>
<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${AXIS}" y2="${AXIS}"/>
${ticks.map(
  (tick) =>
    html`<line class="grid" x1="${x(tick).toFixed(1)}" x2="${x(tick).toFixed(1)}" y1="20" y2="${AXIS}"/><text x="${x(tick).toFixed(1)}" y="${AXIS + 16}" text-anchor="middle">${clock(tick)}</text>`,
)}
${moments.map((moment, index) => {
  const cx = x(moment.at).toFixed(1);
  const labelY = LANE_MARKS - 14 - (index % 3) * 12;
  // A label near an edge of the axis runs inwards, so it is never cut off.
  const share = (moment.at - from) / (to - from);
  const anchor = share > 0.85 ? 'end' : share < 0.1 ? 'start' : 'middle';
  return html`<g><circle class="m-${moment.kind}" cx="${cx}" cy="${LANE_MARKS}" r="6"><title>${moment.label} at ${clock(moment.at)} UTC</title></circle><text x="${cx}" y="${labelY < 10 ? LANE_MARKS + 22 + (index % 3) * 12 : labelY}" text-anchor="${anchor}">${moment.label}</text></g>`;
})}
<path class="healthy-line" d="${path}"/>
<text x="${WIDTH - RIGHT}" y="${LANE_HEALTHY_TOP - 6}" text-anchor="end">${total} of ${incident.affectedHosts} healthy</text>
</svg>
<figcaption>${summary} (times in UTC).</figcaption>
</figure>`;
};

const BAR_HEIGHT = 14;
const ROW = 44;

const duration = (seconds: number | null): string => {
  if (seconds === null) return '—';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
};

/** Mean time to detect and to heal per failure domain, as paired bars on one scale. */
export const healChart = (byDomain: StatsBody['byDomain']): Fragment => {
  if (byDomain.length === 0) return html`<p>No incident in this window.</p>`;
  const longest = Math.max(
    1,
    ...byDomain.flatMap((row) => [row.timeToDetect.meanSeconds ?? 0, row.timeToHeal.meanSeconds ?? 0]),
  );
  const left = 260;
  const width = WIDTH - left - 90;
  const bar = (seconds: number | null): number => ((seconds ?? 0) / longest) * width;
  const height = byDomain.length * ROW + 30;
  return html`<figure>
<svg role="img" aria-labelledby="heal-title heal-desc" viewBox="0 0 ${WIDTH} ${height}" width="100%" preserveAspectRatio="xMinYMin meet">
<title id="heal-title">Mean time to detect and to heal by failure domain</title>
<desc id="heal-desc">${byDomain.length} failure domains; the values are in the table below.</desc>
${byDomain.map((row, index) => {
  const top = 10 + index * ROW;
  const detect = row.timeToDetect.meanSeconds;
  const heal = row.timeToHeal.meanSeconds;
  return html`<g><text x="4" y="${top + BAR_HEIGHT}">${shorten(row.failureDomain, 38)}</text>
<rect class="bar-detect" x="${left}" y="${top}" width="${bar(detect).toFixed(1)}" height="${BAR_HEIGHT}"/><text x="${(left + bar(detect) + 6).toFixed(1)}" y="${top + BAR_HEIGHT - 2}">detect ${duration(detect)}</text>
<rect class="bar-heal" x="${left}" y="${top + BAR_HEIGHT + 4}" width="${bar(heal).toFixed(1)}" height="${BAR_HEIGHT}"/><text x="${(left + bar(heal) + 6).toFixed(1)}" y="${top + 2 * BAR_HEIGHT + 2}">heal ${duration(heal)}</text></g>`;
})}
</svg>
<figcaption>Bars: mean time to detect (upper) and to heal (lower), labelled with their values.</figcaption>
</figure>`;
};

export const shorten = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max - 1)}…`;

export { duration as formatDuration };
