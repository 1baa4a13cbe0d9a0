/**
 * The one table `npm run bench` prints (docs/architecture.md §7): each figure beside its peer or
 * ceiling measured in the same run, and the target it is held to. Every section of the bench
 * (bench/*.ts) answers rows; bench/run.ts prints them together.
 */

export interface BenchRow {
  /** The section: `core`, `ingest 20,000`, `steady 1,000/s`, `memory`, `dispatch`, `cost`, `agent`. */
  readonly section: string;
  /** What was measured, in words. */
  readonly what: string;
  /** Faultline's figure, with its unit (`74,210 events/s`). */
  readonly figure: string;
  /** The peer or ceiling from the same run (`Alertmanager 81,000 alerts/s`), or `—`. */
  readonly peer: string;
  /** The target and whether it holds (`≥ 0.5× peer: 0.92× ✓`). */
  readonly target: string;
}

export const count = (value: number, digits = 0): string =>
  value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** `1.23× ✓` when `ratio` meets `floor`, `0.41× ✗` when it does not. */
export const ratioMark = (ratio: number, floor: number): string =>
  `${ratio.toFixed(2)}× ${ratio >= floor ? '✓' : '✗'}`;

/** `✓` when `value` is at most `ceiling`. */
export const underMark = (value: number, ceiling: number): string => (value <= ceiling ? '✓' : '✗');

/** Prints rows as a Markdown table (what BENCHMARKS.md holds). */
export const printTable = (rows: readonly BenchRow[], write: (line: string) => void = console.log): void => {
  const header: BenchRow = {
    section: 'section',
    what: 'what',
    figure: 'Faultline',
    peer: 'peer or ceiling (same run)',
    target: 'target',
  };
  const columns = ['section', 'what', 'figure', 'peer', 'target'] as const;
  const widths = columns.map((column) => Math.max(...[header, ...rows].map((row) => row[column].length)));
  const line = (row: BenchRow): string =>
    `| ${columns.map((column, index) => row[column].padEnd(widths[index] ?? 0)).join(' | ')} |`;
  write(line(header));
  write(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) write(line(row));
};
