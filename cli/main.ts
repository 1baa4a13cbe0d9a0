/** `faultline`: the control plane on one machine, replay, and the operator commands (docs/architecture.md §6). */

export const USAGE = `usage: faultline <command> [options]

commands:
  up [--listen 127.0.0.1] [--port 8787] [--data .faultline] [--operator-token T] [--tls-cert F --tls-key F]
  demo [--clients 40] [--ldoms-guests 1] [--multipath-hosts 3]
  incidents [--status S] [--domain D] [--host H] [--since T] [--until T] [--json]
  incident <id> [--json]
  stats [--json]
  topology [--domain D] [--spof] [--json]
  impact <domain> [--json]
  approve <id>
  pause | resume
  maintenance <host|domain> on|off
  tokens create --host <hostId> [--label L] [--role hosting|control --serves <domain>...] | --operator [--label L]
  hosts list [--json]
  hosts register <hostId> --role hosting|control --serves <domain>...
  announce <domain> going-down|up [--booted-at T] [--reason R]
  backup <file>
  replay <events.ndjson> [--json] [--until <time>]

The operator commands (incidents ... announce) answer --help.
`;

const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export const main = async (argv: readonly string[]): Promise<number> => {
  const [command] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  const streams = {
    stdout: (text: string) => process.stdout.write(text),
    stderr: (text: string) => process.stderr.write(text),
  };
  if (command === 'replay') {
    const { runReplay } = await import('./replay/command.ts');
    return runReplay(argv.slice(1), streams);
  }
  if (command === 'up') {
    const { runUp, UpEnvironment } = await import('./up.ts');
    return runUp(argv.slice(1), streams, UpEnvironment.parse(process.env));
  }
  if (command === 'demo') {
    const { runDemo } = await import('./demo/command.ts');
    return runDemo(argv.slice(1), streams);
  }
  if (command === 'backup') {
    const { runBackup } = await import('./backup.ts');
    return runBackup(argv.slice(1), streams);
  }
  const { OPERATOR_COMMANDS, OperatorEnvironment, runOperator } = await import('./operator.ts');
  const operator = OPERATOR_COMMANDS.find((name) => name === command);
  if (operator !== undefined)
    return runOperator(operator, argv.slice(1), streams, OperatorEnvironment.parse(process.env));
  process.stderr.write(`faultline: unknown command '${command}'\n\n${USAGE}`);
  return EXIT.usage;
};
