import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { HostId } from '../../events/index.ts';
import { ProbeError } from '../scan/errors.ts';
import { scanHostInDetail } from '../scan/scan.ts';
import { formatSnapshotTable } from '../scan/snapshot-table.ts';
import { EXIT } from './exit.ts';

/**
 * `faultline-agent scan [--root DIR] [--json] [--host-id ID]` (docs/architecture.md §6): one snapshot of this
 * host, or of a tree such as a sosreport or a fixture (`DIR/proc/mdstat`, `DIR/sys/...`, captured
 * tool outputs under `DIR/sos_commands/`). `--json` prints the HostSnapshot; without it, tables for
 * people. The host id is `--host-id` or this machine's host name. What a probe could not read goes
 * to stderr.
 */

const USAGE = 'usage: faultline-agent scan [--root DIR] [--json] [--host-id ID]\n';

type ScanArguments = { root: string; json: boolean; hostId: string | null };

const parseArguments = (args: readonly string[]): ScanArguments | string => {
  const parsed: ScanArguments = { root: '/', json: false, hostId: null };
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    if (flag === '--json' && inline === undefined) {
      parsed.json = true;
      continue;
    }
    if (flag === '--root' || flag === '--host-id') {
      const value = inline ?? args[index + 1];
      if (inline === undefined) index += 1;
      if (value === undefined || value === '') return `${flag} needs a value`;
      if (flag === '--root') parsed.root = value;
      else parsed.hostId = value;
      continue;
    }
    return `unexpected argument '${arg}'`;
  }
  return parsed;
};

/** Scans once and prints; the exit code follows `EXIT` of agent/cli.ts. */
export const run = async (args: readonly string[]): Promise<number> => {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  const parsed = parseArguments(args);
  if (typeof parsed === 'string') {
    process.stderr.write(`faultline-agent scan: ${parsed}\n${USAGE}`);
    return EXIT.usage;
  }
  const hostId = parsed.hostId ?? hostname();
  if (!HostId.safeParse(hostId).success) {
    process.stderr.write(`faultline-agent scan: '${hostId}' is not a host id; name one with --host-id\n`);
    return EXIT.usage;
  }
  try {
    if (!(await stat(parsed.root)).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(`faultline-agent scan: cannot scan ${parsed.root}: ${reason}\n`);
    return EXIT.failure;
  }
  try {
    const scan = await scanHostInDetail({ root: parsed.root, hostId, now: new Date() });
    process.stdout.write(
      parsed.json
        ? `${JSON.stringify(scan.snapshot, null, 2)}\n`
        : formatSnapshotTable(scan.snapshot, scan.sync),
    );
    for (const warning of scan.warnings) {
      const where = warning.line > 0 ? ` line ${warning.line}` : '';
      process.stderr.write(`faultline-agent scan: ${warning.source}${where}: ${warning.reason}\n`);
    }
    return EXIT.ok;
  } catch (error) {
    const reason = error instanceof ProbeError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`faultline-agent scan: ${reason}\n`);
    return EXIT.failure;
  }
};
