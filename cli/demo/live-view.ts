import type { SimClient } from '../../sim/client.ts';
import type { IncidentSummary } from '../../sim/control-plane-client.ts';
import type { SimulatedAgentHost } from '../../sim/simulated-agent-host.ts';
import {
  afterStability,
  DEFAULT_STABILITY_TIMINGS,
  type StabilityTimings,
  stableAt,
} from './stability-countdown.ts';
import { healText } from './time-to-heal.ts';

/**
 * What the terminal shows while the demo runs: the story so far (outage, incident, canary, waves,
 * pages) and, on a terminal, a board of every client with its resync bar, redrawn a few times a
 * second with plain ANSI. When stdout is not a terminal only the story is printed, line by line,
 * with no escape codes.
 *
 * While a domain that is back waits out its stability period (a minute by default) nothing else
 * happens, so the view counts down to the moment its plans go out (./stability-countdown.ts): a
 * line of the board on a terminal, otherwise a story line when the wait starts and every
 * {@link COUNTDOWN_STEP_SECONDS} after, and one when it is over.
 */

export const VIEW_REFRESH_MS = 250;
/** How often the countdown is checked when stdout is not a terminal. */
const COUNTDOWN_TICK_MS = 1000;
/** When stdout is not a terminal, a countdown says how long is left this often. */
export const COUNTDOWN_STEP_SECONDS = 10;
const STORY_LINES = 12;
const BAR_WIDTH = 12;
const ANSI = {
  home: '\x1b[H',
  clear: '\x1b[2J\x1b[H',
  clearDown: '\x1b[J',
  bold: '\x1b[1m',
  reset: '\x1b[0m',
};

const PHASE_MARK: Readonly<Record<SimClient['phase'], string>> = {
  healthy: 'ok      ',
  degraded: 'DEGRADED',
  healing: 'healing ',
  resyncing: 'resync  ',
  healed: 'healed  ',
  failed: 'FAILED  ',
};

const bar = (percent: number): string => {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
};

const clock = (at: number): string => new Date(at).toISOString().slice(11, 19);

/** One domain back and waiting out its stability period. */
type Countdown = {
  readonly failureDomain: string;
  /** The incident's `upAt` it counts from: a new one (the domain flapped) starts a new countdown. */
  readonly upAt: string;
  readonly stableAt: number;
  /** What happens then (./stability-countdown.ts `afterStability`). */
  readonly afterwards: string;
  /** The last step said, in seconds left (not on a terminal). */
  saidAt: number;
};

export type LiveViewOptions = {
  /** The control plane's timings, for the countdown; the defaults of docs/architecture.md §5 otherwise. */
  readonly timings?: StabilityTimings;
  readonly now?: () => number;
};

export class LiveView {
  private readonly story: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;
  /** By incident id. */
  private readonly countdowns = new Map<string, Countdown>();
  private readonly timings: StabilityTimings;
  private readonly now: () => number;
  incident: IncidentSummary | undefined;
  headline = '';

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
    private readonly clients: () => readonly SimClient[],
    /** The LDoms guests, the multipath hosts and the single clients, on rows of their own below the clients. */
    private readonly storageHosts: () => readonly SimulatedAgentHost[] = () => [],
    options: LiveViewOptions = {},
  ) {
    this.timings = options.timings ?? DEFAULT_STABILITY_TIMINGS;
    this.now = options.now ?? Date.now;
  }

  /** A line of the story: printed at once when not on a terminal. */
  say(text: string): void {
    const line = `${clock(this.now())}  ${text}`;
    this.story.push(line);
    if (!this.tty) this.write(`${line}\n`);
  }

  /**
   * The latest of an incident as the demo polls it: once its domain is back, counts down to the
   * end of its stability period; resolved, halted or down again, the countdown ends without a word.
   * `hasPaths`: its hosts lost multipath paths (they wait for multipathd first).
   */
  watch(incident: IncidentSummary, hasPaths = false): void {
    const until = stableAt(incident, this.timings, hasPaths);
    const known = this.countdowns.get(incident.id);
    if (until === undefined || incident.upAt === undefined || incident.upAt === null) {
      this.countdowns.delete(incident.id);
      return;
    }
    if (known?.upAt === incident.upAt) return;
    const left = this.secondsLeft(until);
    // Seen only once the wait was over: its plans are already going out, the story shows them.
    if (left <= 0) return;
    const countdown: Countdown = {
      failureDomain: incident.failureDomain,
      upAt: incident.upAt,
      stableAt: until,
      afterwards: afterStability(incident, this.timings),
      saidAt: left,
    };
    this.countdowns.set(incident.id, countdown);
    this.say(
      `${countdown.failureDomain} is back (up since ${clock(Date.parse(countdown.upAt))}): stable in ${left} s, at ${clock(until)}; then ${countdown.afterwards}`,
    );
  }

  /** Says what the countdowns reached: each step when not on a terminal, and their ends. */
  tick(): void {
    for (const [id, countdown] of this.countdowns) {
      const left = this.secondsLeft(countdown.stableAt);
      if (left <= 0) {
        this.countdowns.delete(id);
        this.say(`${countdown.failureDomain} is stable: ${countdown.afterwards}`);
        continue;
      }
      if (this.tty) continue;
      const step = Math.ceil(left / COUNTDOWN_STEP_SECONDS) * COUNTDOWN_STEP_SECONDS;
      if (step < countdown.saidAt) {
        countdown.saidAt = step;
        this.say(`${countdown.failureDomain}: stable in ${step} s; then ${countdown.afterwards}`);
      }
    }
  }

  private secondsLeft(at: number): number {
    return Math.ceil((at - this.now()) / 1000);
  }

  start(): void {
    if (!this.tty) {
      this.timer = setInterval(() => this.tick(), COUNTDOWN_TICK_MS);
      return;
    }
    this.write(ANSI.clear);
    this.timer = setInterval(() => {
      this.tick();
      this.draw();
    }, VIEW_REFRESH_MS);
  }

  /** Stops redrawing, after one last frame on a terminal. */
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) this.draw();
  }

  private draw(): void {
    const clients = this.clients();
    const healed = clients.filter((client) => client.phase === 'healed').length;
    const lines: string[] = [
      `${ANSI.bold}faultline demo${ANSI.reset}  ${this.headline}`,
      this.incident === undefined
        ? 'incident: none yet'
        : `incident ${this.incident.id}  ${this.incident.kind}  ${this.incident.status}  ${this.incident.failureDomain}  ${this.incident.affectedHosts} host(s)${this.incident.status === 'resolved' ? `  ${healText(this.incident)}` : ''}`,
      ...[...this.countdowns.values()].map(
        (countdown) =>
          `${countdown.failureDomain}: stable in ${Math.max(0, this.secondsLeft(countdown.stableAt))} s; then ${countdown.afterwards}`,
      ),
      `clients: ${clients.length}, healed ${healed}`,
      '',
    ];
    const cell = (client: SimulatedAgentHost) => {
      const percent = client.resyncPercent;
      const progress =
        client.phase === 'healed' ? bar(100) : percent === null ? ' '.repeat(BAR_WIDTH + 2) : bar(percent);
      return `${client.hostId.padEnd(9)} ${PHASE_MARK[client.phase]} ${progress}`;
    };
    const columns = 3;
    const grid = (cells: string[]) => {
      for (let row = 0; row < Math.ceil(cells.length / columns); row += 1) {
        lines.push(
          cells
            .slice(row * columns, row * columns + columns)
            .join('   ')
            .trimEnd(),
        );
      }
    };
    grid(clients.map(cell));
    const storageHosts = this.storageHosts();
    if (storageHosts.length > 0) {
      lines.push(
        '',
        'LDoms guests (SVM over primary/alternate), multipath hosts (FC paths), single clients (no server agent):',
      );
      grid(storageHosts.map(cell));
    }
    lines.push('', ...this.story.slice(-STORY_LINES));
    this.write(`${ANSI.home}${lines.map((line) => `${line}\x1b[K`).join('\n')}\n${ANSI.clearDown}`);
    this.drawn = true;
  }

  /** The closing lines, printed below the board (or after the story). */
  close(lines: readonly string[]): void {
    this.stop();
    this.write(`${this.tty && this.drawn ? '\n' : ''}${lines.join('\n')}\n`);
  }
}
