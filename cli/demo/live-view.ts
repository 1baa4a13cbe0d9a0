import type { SimClient } from '../../sim/client.ts';
import type { IncidentSummary } from '../../sim/control-plane-client.ts';
import type { SimulatedAgentHost } from '../../sim/simulated-agent-host.ts';

/**
 * What the terminal shows while the demo runs: the story so far (outage, incident, canary, waves,
 * pages) and, on a terminal, a board of every client with its resync bar, redrawn a few times a
 * second with plain ANSI. When stdout is not a terminal only the story is printed, line by line.
 */

export const VIEW_REFRESH_MS = 250;
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

export class LiveView {
  private readonly story: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;
  incident: IncidentSummary | undefined;
  headline = '';

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
    private readonly clients: () => readonly SimClient[],
    /** The LDoms guests, the multipath hosts and the single clients, on rows of their own below the clients. */
    private readonly storageHosts: () => readonly SimulatedAgentHost[] = () => [],
  ) {}

  /** A line of the story: printed at once when not on a terminal. */
  say(text: string): void {
    const line = `${clock(Date.now())}  ${text}`;
    this.story.push(line);
    if (!this.tty) this.write(`${line}\n`);
  }

  start(): void {
    if (!this.tty) return;
    this.write(ANSI.clear);
    this.timer = setInterval(() => this.draw(), VIEW_REFRESH_MS);
  }

  /** Stops redrawing, after one last frame. */
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.draw();
  }

  private draw(): void {
    const clients = this.clients();
    const healed = clients.filter((client) => client.phase === 'healed').length;
    const lines: string[] = [
      `${ANSI.bold}faultline demo${ANSI.reset}  ${this.headline}`,
      this.incident === undefined
        ? 'incident: none yet'
        : `incident ${this.incident.id}  ${this.incident.kind}  ${this.incident.status}  ${this.incident.failureDomain}  ${this.incident.affectedHosts} host(s)`,
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
