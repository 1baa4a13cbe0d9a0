import { readFile } from 'node:fs/promises';
import { PARSE_OUTPUTS } from '../../events/index.ts';
import { parseLdmList, toLdmOutput } from '../../probes/ldm.ts';
import { parseLspath, toLspathOutput } from '../../probes/lspath.ts';
import { parseLsvgLogicalVolumes, toLsvgOutput } from '../../probes/lsvg.ts';
import { parseMdstat, toMdstatOutput } from '../../probes/mdstat.ts';
import { parseMetadb, replicaActive, replicaInError, replicaSlice } from '../../probes/metadb.ts';
import { parseMetastat, toMetastatOutput } from '../../probes/metastat.ts';
import { parseMultipath, toMultipathOutput } from '../../probes/multipath.ts';
import type { ProbeWarning } from '../../probes/tool-text.ts';
import { WARNING_TEXT_LIMIT } from '../../probes/tool-text.ts';
import { EXIT } from './exit.ts';

/**
 * `faultline-agent parse mdstat|multipath|metastat|metadb|ldm|lsvg|lspath [FILE]` (docs/architecture.md
 * §6): one tool's output, from FILE or stdin, printed as exactly the §6 JSON. `lsvg` reads `lsvg -l
 * <vg>...` (a stale LV's `stalePartitions` is null: `lsvg -l` does not count them); `lspath` reads
 * the default form and `-F "name [path_id] parent connection status"`. Lines the parser could not
 * read go to stderr as warnings; they do not fail the command, since the JSON still holds
 * everything that was read. An unknown tool or a stray argument is a usage error (2); a file that
 * cannot be read is a failure (1).
 */

const USAGE = 'usage: faultline-agent parse mdstat|multipath|metastat|metadb|ldm|lsvg|lspath [FILE]\n';

type Parsed = { output: unknown; warnings: ProbeWarning[] };

/** Every output `parse` prints, by tool: the §6 outputs of events/. */
const OUTPUTS = PARSE_OUTPUTS;

const PARSERS: Readonly<Record<keyof typeof OUTPUTS, (text: string) => Parsed>> = {
  mdstat: (text) => {
    const reading = parseMdstat(text);
    return { output: toMdstatOutput(reading), warnings: reading.warnings };
  },
  multipath: (text) => {
    const reading = parseMultipath(text);
    return { output: toMultipathOutput(reading), warnings: reading.warnings };
  },
  metastat: (text) => {
    const reading = parseMetastat(text);
    return { output: toMetastatOutput(reading), warnings: reading.warnings };
  },
  metadb: (text) => {
    const reading = parseMetadb(text);
    return {
      output: {
        replicas: reading.replicas.map((replica) => ({
          slice: replicaSlice(replica),
          flags: replica.flags,
          active: replicaActive(replica),
          errors: replicaInError(replica),
        })),
      },
      warnings: reading.messages.map((message) => ({
        line: 0,
        text: message.slice(0, WARNING_TEXT_LIMIT),
        reason: `not a replica line: ${message.slice(0, WARNING_TEXT_LIMIT)}`,
      })),
    };
  },
  ldm: (text) => {
    const reading = parseLdmList(text);
    return { output: toLdmOutput(reading), warnings: reading.warnings };
  },
  lsvg: (text) => {
    const reading = parseLsvgLogicalVolumes(text);
    return { output: toLsvgOutput(reading), warnings: reading.warnings };
  },
  lspath: (text) => {
    const reading = parseLspath(text);
    return { output: toLspathOutput(reading), warnings: reading.warnings };
  },
};

const isTool = (name: string): name is keyof typeof OUTPUTS => Object.hasOwn(PARSERS, name);

/** Parses one capture; the exit code follows `EXIT` of agent/cli.ts. */
export const run = async (args: readonly string[]): Promise<number> => {
  const [tool, file, ...extra] = args;
  if (tool === '--help' || tool === '-h') {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (tool === undefined || !isTool(tool)) {
    process.stderr.write(
      `faultline-agent parse: ${tool === undefined ? 'which tool?' : `unknown tool '${tool}'`}\n${USAGE}`,
    );
    return EXIT.usage;
  }
  if (extra.length > 0) {
    process.stderr.write(`faultline-agent parse: unexpected argument '${extra[0]}'\n${USAGE}`);
    return EXIT.usage;
  }
  let text: string;
  try {
    text = file === undefined || file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(`faultline-agent parse: cannot read ${file ?? 'stdin'}: ${reason}\n`);
    return EXIT.failure;
  }
  const { output, warnings } = PARSERS[tool](text);
  const checked = OUTPUTS[tool].safeParse(output);
  if (!checked.success) {
    process.stderr.write(`faultline-agent parse: internal error, output does not fit the ${tool} shape\n`);
    return EXIT.failure;
  }
  process.stdout.write(`${JSON.stringify(checked.data, null, 2)}\n`);
  for (const warning of warnings) {
    process.stderr.write(`faultline-agent parse: ${tool} line ${warning.line}: ${warning.reason}\n`);
  }
  return EXIT.ok;
};

const readStdin = async (): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
};
