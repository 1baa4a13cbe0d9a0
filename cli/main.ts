/** `faultline`: the control plane on one machine, replay, and the operator commands (docs/architecture.md §6). */

import { CLOSED_OUTPUT_EXIT, type ProcessOutput, processOutput } from './streams.ts';

export const USAGE = `usage: faultline <command> [options]

commands:
  up [--listen 127.0.0.1] [--port 8787] [--data .faultline] [--operator-token T] [--tls-cert F --tls-key F]
     [--config faultline.json] [--log-level info|debug|warn] [--metrics-listen ADDR:PORT]
  demo [--clients 40] [--ldoms-guests 1] [--multipath-hosts 3]
  incidents [--status S] [--domain D] [--host H] [--since T] [--until T] [--limit N] [--cursor C] [--json]
  incident <id> [--json]
  stats [--json]
  topology [--domain D] [--spof] [--json]
  impact <domain> [--json]
  approve <id>
  resolve <id>
  pause
  resume
  maintenance <host|domain> on|off
  tokens create --host <hostId> [--label L] [--role hosting|control --serves <domain>...] | --operator [--label L]
  tokens list [--json]
  tokens revoke <id>
  hosts list [--json]
  hosts register <hostId> --role hosting|control --serves <domain>...
  announce <domain> going-down|up [--booted-at T] [--reason R]
  backup <file>
  replay <events.ndjson> [--json] [--until <time>]

Every command answers --help (or: faultline help <command>).
`;

const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * `faultline up --help`. up.ts takes no `--help` of its own, but refuses an option it does not know
 * with its usage, before anything starts: that usage, moved to stdout, is its help (and should
 * up.ts answer `--help` itself one day, its answer is passed on as it is).
 */
const upUsage = async (): Promise<string> => {
  const { runUp } = await import('./up.ts');
  let answer = '';
  let refusal = '';
  const code = await runUp(
    ['--help'],
    {
      stdout: (text) => {
        answer += text;
      },
      stderr: (text) => {
        refusal += text;
      },
    },
    {},
  );
  if (code === EXIT.ok) return answer;
  const usage = refusal.indexOf('usage:');
  return usage === -1 ? refusal : refusal.slice(usage);
};

/** Every command `faultline` runs: each answers `--help` with its usage on stdout. */
export const COMMANDS = [
  'up',
  'demo',
  'replay',
  'backup',
  'incidents',
  'incident',
  'stats',
  'topology',
  'impact',
  'approve',
  'resolve',
  'pause',
  'resume',
  'maintenance',
  'tokens',
  'hosts',
  'announce',
] as const;

/** Whether a command line asks for help: `--help` or `-h` before any `--` (after it, words are operands). */
const asksForHelp = (args: readonly string[]): boolean => {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
};

/**
 * `up` drains and stops on SIGTERM, through the handler it sets once it listens: a closed output
 * stops it that way, at once or as soon as that handler is set.
 */
const stopUpAsOnSigterm = (): void => {
  const terminate = () => process.kill(process.pid, 'SIGTERM');
  if (process.listenerCount('SIGTERM') > 0) {
    terminate();
    return;
  }
  const whenHandled = (event: string | symbol) => {
    if (event !== 'SIGTERM') return;
    process.off('newListener', whenHandled);
    // Fired just before the handler is added: signal once it is.
    setImmediate(terminate);
  };
  process.on('newListener', whenHandled);
};

const runCommand = async (argv: readonly string[], output: ProcessOutput): Promise<number> => {
  const { streams } = output;
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    if (command === 'help' && args[0] !== undefined) return runCommand([args[0], '--help'], output);
    streams.stdout(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === 'replay') {
    const { runReplay } = await import('./replay/command.ts');
    return runReplay(args, streams);
  }
  if (command === 'up') {
    if (asksForHelp(args)) {
      streams.stdout(await upUsage());
      return EXIT.ok;
    }
    const { runUp, UpEnvironment } = await import('./up.ts');
    output.closed.addEventListener('abort', stopUpAsOnSigterm, { once: true });
    try {
      return await runUp(args, streams, UpEnvironment.parse(process.env));
    } finally {
      output.closed.removeEventListener('abort', stopUpAsOnSigterm);
    }
  }
  if (command === 'demo') {
    const { runDemo } = await import('./demo/command.ts');
    return runDemo(args, streams, output.closed);
  }
  if (command === 'backup') {
    const { runBackup } = await import('./backup.ts');
    return runBackup(args, streams);
  }
  const { OPERATOR_COMMANDS, OperatorEnvironment, runOperator } = await import('./operator.ts');
  const operator = OPERATOR_COMMANDS.find((name) => name === command);
  if (operator !== undefined)
    return runOperator(operator, args, streams, OperatorEnvironment.parse(process.env));
  streams.stderr(`faultline: unknown command '${command}'\n\n${USAGE}`);
  return EXIT.usage;
};

/**
 * Runs one command line. Its exit status, or {@link CLOSED_OUTPUT_EXIT} when the reader of its
 * output went away meanwhile (./streams.ts): it then wrote nothing more, and stopped if it runs
 * until stopped (`up`, `demo`).
 */
export const main = async (
  argv: readonly string[],
  output: ProcessOutput = processOutput(),
): Promise<number> => {
  const code = await runCommand(argv, output);
  return output.closed.aborted ? CLOSED_OUTPUT_EXIT : code;
};

export { CLOSED_OUTPUT_EXIT };
