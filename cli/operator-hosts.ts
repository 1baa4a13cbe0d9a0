import {
  FailureDomain,
  HostId,
  HostList,
  HostRecordBody,
  issuesText,
  parseWith,
  ServerRole,
} from '../events/index.ts';
import { answer, type CommandContext, call, table, UsageError } from './operator-client.ts';

/**
 * The operator commands that say who the servers are (docs/architecture.md §3 "Sender binding",
 * §6): `faultline hosts list` and `faultline hosts register <id> --role hosting|control --serves
 * <domain>...`; `faultline tokens create` (./operator-tokens.ts) takes the same grant. A grant
 * lives on the host record: its agent may then heartbeat with that role and announce those
 * domains; every host not registered is a client.
 */

export const HOSTS_USAGE = `usage:
  faultline hosts list [--json]
  faultline hosts register <hostId> --role hosting|control --serves <domain> [--serves <domain>...] [--json]
    --serves takes one or several failure domains (vscsi:<system>/<partition>, vdisk:<control>/<service domain>)
`;

/** The grant of a command line, checked here so that a typo is a usage error, not a 400. */
export const grantOf = (context: CommandContext): { role: ServerRole; serves: string[] } | undefined => {
  const role = context.text('role');
  const serves = [...context.list('serves')];
  if (role === undefined && serves.length === 0) return undefined;
  if (role === undefined) throw new UsageError('--serves needs --role hosting|control');
  if (serves.length === 0) throw new UsageError('--role needs at least one --serves <domain>');
  const parsedRole = ServerRole.safeParse(role);
  if (!parsedRole.success)
    throw new UsageError(`--role must be hosting or control, not ${JSON.stringify(role)}`);
  for (const domain of serves) {
    const parsed = parseWith(FailureDomain, domain);
    if (!parsed.ok) throw new UsageError(`--serves ${domain}: ${issuesText(parsed.issues)}`);
  }
  if (new Set(serves).size !== serves.length) throw new UsageError('--serves lists a domain twice');
  return { role: parsedRole.data, serves };
};

export const hostIdOf = (value: string | undefined, what: string): string => {
  if (value === undefined) throw new UsageError(`${what} needs a host id`);
  const parsed = parseWith(HostId, value);
  if (!parsed.ok)
    throw new UsageError(`${JSON.stringify(value)} is not a host id: ${issuesText(parsed.issues)}`);
  return parsed.value;
};

const grantWords = (record: HostRecordBody): string =>
  `${record.hostId} as ${record.role} serving ${record.serves.join(', ')}`;

/** `faultline hosts list|register`. */
export const runHosts = async (context: CommandContext): Promise<number> => {
  const [verb, hostId, ...rest] = context.positionals;
  if (verb === 'list') {
    if (hostId !== undefined || context.text('role') !== undefined || context.list('serves').length > 0)
      throw new UsageError('hosts list takes no arguments');
    const listed = answer(HostList, await call(context.connection, 'GET', '/v1/hosts'), 'GET /v1/hosts');
    context.print(listed, () =>
      listed.hosts.length === 0
        ? 'no servers registered: every host is a client\n'
        : table(
            ['HOST', 'ROLE', 'SERVES', 'REGISTERED', 'BY'],
            listed.hosts.map((host) => [
              host.hostId,
              host.role,
              host.serves.join(','),
              host.registeredAt,
              host.registeredBy,
            ]),
          ),
    );
    return 0;
  }
  if (verb === 'register') {
    if (rest.length > 0) throw new UsageError(`unexpected ${rest.join(' ')}`);
    const id = hostIdOf(hostId, 'hosts register');
    const grant = grantOf(context);
    if (grant === undefined)
      throw new UsageError('hosts register needs --role hosting|control and --serves <domain>');
    const path = `/v1/hosts/${encodeURIComponent(id)}`;
    const record = answer(HostRecordBody, await call(context.connection, 'PUT', path, grant), `PUT ${path}`);
    context.print(record, () => `registered ${grantWords(record)}\n`);
    return 0;
  }
  throw new UsageError(verb === undefined ? 'hosts needs list or register' : `unknown hosts command ${verb}`);
};
