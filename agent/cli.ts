/** `faultline-agent`: the host agent (DESIGN.md §6). */

export const USAGE = `usage: faultline-agent <command> [options]

commands:
  run --config agent.json
  scan [--root DIR] [--json]
  parse mdstat|multipath|metastat|ldm [FILE]
  hook <event> <md-device> [component]
`;

const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export const main = async (argv: readonly string[]): Promise<number> => {
  const [command] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  process.stderr.write(`faultline-agent: unknown command '${command}'\n\n${USAGE}`);
  return EXIT.usage;
};
