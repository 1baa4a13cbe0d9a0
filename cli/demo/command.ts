import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { issuesText, parseWith } from '../../events/index.ts';
import { LOCAL_SINK, RuntimeConfig } from '../../local/config.ts';
import { DemoError } from '../../sim/errors.ts';
import { DATA_FILES, DEFAULT_DATA, DEFAULT_URL } from '../operator.ts';
import type { Streams } from '../streams.ts';
import { DEMO_DEFAULTS, runFleetDemo } from './run-demo.ts';
import type { StabilityTimings } from './stability-countdown.ts';

/**
 * `faultline demo [--clients 40] [--ldoms-guests 1] [--multipath-hosts 3] [--single-clients 1]`: a
 * simulated fleet on the running control plane: the demo's driver (cli/demo/) over the simulated
 * fleet (sim/). `--single-clients 0` leaves out the one-client layout (a client alone on two
 * hosting partitions that run no agent), as `--ldoms-guests 0` leaves out the LDoms guests.
 * The control plane is found as the operator commands find it: `--url`/`--token`, else
 * `FAULTLINE_URL`/`FAULTLINE_TOKEN`, else the files `faultline up` keeps in `--data`. Its timings
 * (for the countdown while a domain waits to be stable) come from `--config`, else
 * `./faultline.json` when present, as `faultline up` reads them, else the defaults.
 */

export const DEMO_USAGE = `usage: faultline demo [--clients ${DEMO_DEFAULTS.clients}] [--ldoms-guests ${DEMO_DEFAULTS.ldomsGuests}] [--multipath-hosts ${DEMO_DEFAULTS.multipathHosts}]
       [--single-clients ${DEMO_DEFAULTS.singleClients}]
       [--url URL] [--token T] [--data DIR] [--config faultline.json]
       [--sink-port ${LOCAL_SINK.port}] [--outage-seconds ${DEMO_DEFAULTS.outageSeconds}] [--timeout ${DEMO_DEFAULTS.timeoutSeconds}]
  a simulated fleet on the running control plane (\`faultline up\`) heals a VIOS IPL, an LDoms service
  domain reboot, a SAN port and a lone client's server, with no operator in the loop
  --config: the file \`faultline up\` read (./faultline.json when present): its stability period, for the countdown
`;
const DEFAULT_CONFIG_FILE = 'faultline.json';

export const DemoEnvironment = z.object({
  FAULTLINE_URL: z.url().optional(),
  FAULTLINE_TOKEN: z.string().min(1).optional(),
  FAULTLINE_DATA: z.string().min(1).optional(),
});

const Arguments = z.object({
  clients: z.coerce.number().int().min(2).max(500).default(DEMO_DEFAULTS.clients),
  ldomsGuests: z.coerce.number().int().min(0).max(50).default(DEMO_DEFAULTS.ldomsGuests),
  multipathHosts: z.coerce
    .number()
    .int()
    .min(0)
    .max(100)
    .refine(
      (count) => count !== 1,
      'one multipath host alone is a local fault, never planned: 0, or 2 and more',
    )
    .default(DEMO_DEFAULTS.multipathHosts),
  /** Each on its own managed system with two hosting partitions, so at most a handful. */
  singleClients: z.coerce.number().int().min(0).max(10).default(DEMO_DEFAULTS.singleClients),
  sinkPort: z.coerce.number().int().min(0).max(65_535).default(LOCAL_SINK.port),
  outageSeconds: z.coerce.number().min(0).max(3600).default(DEMO_DEFAULTS.outageSeconds),
  timeout: z.coerce.number().min(1).max(86_400).default(DEMO_DEFAULTS.timeoutSeconds),
});

const readIfPresent = (path: string): string | undefined =>
  existsSync(path) ? readFileSync(path, 'utf8').trim() || undefined : undefined;

/** The control plane's timings the countdown needs, from its `faultline.json`; a reason when it cannot be read. */
const timingsOf = (file: string | undefined): { timings?: StabilityTimings; refused?: string } => {
  const path = file ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (path === undefined) return {};
  let input: unknown;
  try {
    input = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    return { refused: `cannot read ${path}: ${(error as Error).message}` };
  }
  const config = parseWith(RuntimeConfig, input);
  if (!config.ok) return { refused: `${path}: ${issuesText(config.issues)}` };
  const { stabilitySeconds, pathReinstateDelaySeconds, runbooks } = config.value.core;
  return { timings: { stabilitySeconds, pathReinstateDelaySeconds, runbooks } };
};

/** `faultline demo`; `stop` ends it early (its output's reader went away), its fleet cleaned up. */
export const runDemo = async (
  args: readonly string[],
  streams: Streams,
  stop?: AbortSignal,
): Promise<number> => {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        help: { type: 'boolean', short: 'h' },
        config: { type: 'string' },
        clients: { type: 'string' },
        'ldoms-guests': { type: 'string' },
        'multipath-hosts': { type: 'string' },
        'single-clients': { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        data: { type: 'string' },
        'sink-port': { type: 'string' },
        'outage-seconds': { type: 'string' },
        timeout: { type: 'string' },
      },
    }).values;
  } catch (error) {
    streams.stderr(`faultline demo: ${(error as Error).message}\n${DEMO_USAGE}`);
    return 2;
  }
  if (values.help === true) {
    streams.stdout(DEMO_USAGE);
    return 0;
  }
  const text = (key: string) => (typeof values[key] === 'string' ? (values[key] as string) : undefined);
  const parsed = Arguments.safeParse({
    clients: text('clients'),
    ldomsGuests: text('ldoms-guests'),
    multipathHosts: text('multipath-hosts'),
    singleClients: text('single-clients'),
    sinkPort: text('sink-port'),
    outageSeconds: text('outage-seconds'),
    timeout: text('timeout'),
  });
  if (!parsed.success) {
    streams.stderr(
      `faultline demo: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}\n${DEMO_USAGE}`,
    );
    return 2;
  }
  const { timings, refused } = timingsOf(text('config'));
  if (refused !== undefined) {
    streams.stderr(`faultline demo: ${refused}\n`);
    return 2;
  }
  const env = DemoEnvironment.parse(process.env);
  const data = text('data') ?? env.FAULTLINE_DATA ?? DEFAULT_DATA;
  const url = (
    text('url') ??
    env.FAULTLINE_URL ??
    readIfPresent(join(data, DATA_FILES.url)) ??
    DEFAULT_URL
  ).replace(/\/$/, '');
  const operatorToken =
    text('token') ?? env.FAULTLINE_TOKEN ?? readIfPresent(join(data, DATA_FILES.operatorToken));
  try {
    return await runFleetDemo({
      clients: parsed.data.clients,
      ldomsGuests: parsed.data.ldomsGuests,
      multipathHosts: parsed.data.multipathHosts,
      singleClients: parsed.data.singleClients,
      url,
      operatorToken,
      dataDir: data,
      sinkPort: parsed.data.sinkPort,
      outageSeconds: parsed.data.outageSeconds,
      timeoutSeconds: parsed.data.timeout,
      tty: process.stdout.isTTY === true,
      write: streams.stdout,
      ...(timings === undefined ? {} : { timings }),
      ...(stop === undefined ? {} : { stop }),
    });
  } catch (error) {
    streams.stderr(`faultline demo: ${(error as Error).message}\n`);
    return error instanceof DemoError ? error.exitCode : 1;
  }
};
