/**
 * `faultline-agent` (docs/architecture.md §6). Each command lives in `agent/commands/<name>.ts` and exports
 * `run(args): Promise<number>`; it is loaded only when called, so `hook` starts fast.
 */

export const USAGE = `usage: faultline-agent <command> [options]

commands:
  run --config agent.json
  scan [--root DIR] [--json]
  parse mdstat|multipath|metastat|ldm [FILE]
  hook <event> <md-device> [component]
  announce going-down [--reason R] [--config F] [--wait S] [--only-at-shutdown]
`;

import { EXIT } from './commands/exit.ts';

type Command = { run: (args: readonly string[]) => Promise<number> };

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: () => import('./commands/run.ts'),
  scan: () => import('./commands/scan.ts'),
  parse: () => import('./commands/parse.ts'),
  hook: () => import('./commands/hook.ts'),
  announce: () => import('./commands/announce.ts'),
};

export const main = async (argv: readonly string[]): Promise<number> => {
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (load === undefined) {
    process.stderr.write(`faultline-agent: unknown command '${command}'\n\n${USAGE}`);
    return EXIT.usage;
  }
  return (await load()).run(args);
};
