import { parseArgs } from 'node:util';
import {
  CommandAccepted,
  DomainImpactBody,
  FailureDomain,
  type IncidentBody,
  IncidentList,
  type SinglePointOfFailureBody,
  StatsBody,
  TopologyBody,
  type TopologyHostBody,
} from '../events/index.ts';
import { ANNOUNCE_USAGE, runAnnounce } from './operator-announce.ts';
import {
  answer,
  type CommandContext,
  call,
  connectionOf,
  EXIT,
  type OperatorEnvironment,
  OperatorError,
  table,
  UsageError,
} from './operator-client.ts';
import { HOSTS_USAGE, runHosts } from './operator-hosts.ts';
import { wholeIncident } from './operator-incident.ts';
import { runTokens, TOKENS_USAGE } from './operator-tokens.ts';
import type { Streams } from './streams.ts';

/**
 * The operator commands of docs/architecture.md §6 against a running control plane: `incidents`,
 * `incident` (the whole incident, read page by page: ./operator-incident.ts), `stats`, `topology`,
 * `impact`, `approve`, `resolve`, `pause`, `resume`, `maintenance`, `tokens create|list|revoke`
 * (./operator-tokens.ts), `hosts list|register` (./operator-hosts.ts) and `announce`
 * (./operator-announce.ts). Tables for
 * people, `--json` for scripts, `--help` for each. The control plane's URL and operator token come
 * from `--url`/`--token`, else `FAULTLINE_URL`/`FAULTLINE_TOKEN`, else the files `faultline up`
 * writes in its data folder (./operator-client.ts).
 */

export {
  DATA_FILES,
  DEFAULT_DATA,
  DEFAULT_URL,
  OperatorEnvironment,
} from './operator-client.ts';

const seconds = (value: number | null | undefined): string =>
  value === null || value === undefined
    ? '-'
    : value < 120
      ? `${value.toFixed(0)} s`
      : `${(value / 60).toFixed(1)} min`;

const incidentRows = (incidents: readonly IncidentBody[]) =>
  table(
    ['ID', 'KIND', 'STATUS', 'HOSTS', 'OPENED', 'RESOLVED', 'FAILURE DOMAIN'],
    incidents.map((incident) => [
      incident.id,
      incident.kind,
      `${incident.status}${incident.escalated ? ' !' : ''}`,
      String(incident.affectedHosts),
      incident.openedAt,
      incident.resolvedAt ?? '-',
      incident.failureDomain,
    ]),
  );

/** Where a domain's name is long, the part after `vscsi:<system>/` says which server. */
const shortDomain = (domain: string): string => domain.replace(/^(vscsi|vdisk):[^/]+\//, '$1:');

const topologyRows = (hosts: readonly TopologyHostBody[]) =>
  table(
    ['HOST', 'RESOURCE', 'HEALTH', 'MEMBERS AND PATHS (DOMAIN)'],
    hosts.flatMap((host) => [
      ...host.arrays.map((array) => [
        host.hostId,
        array.array,
        `${array.health}${array.singlePointOfFailure ? ' (spof)' : ''}`,
        array.members
          .map((one) => `${one.device} ${one.state} (${shortDomain(one.failureDomain)})`)
          .join(', '),
      ]),
      ...host.maps.map((map) => [
        host.hostId,
        map.map,
        `${map.usableDomains.length === map.domains.length ? 'healthy' : 'degraded'}${map.singlePointOfFailure ? ' (spof)' : ''}`,
        map.paths.map((one) => `${one.path} ${one.state} (${shortDomain(one.failureDomain)})`).join(', '),
      ]),
    ]),
  );

const spofRows = (spofs: readonly SinglePointOfFailureBody[]) =>
  table(
    ['HOST', 'KIND', 'NAME', 'EVERY HALF ON'],
    spofs.map((spof) => [spof.hostId, spof.kind, spof.name, spof.failureDomain]),
  );

const COMMON_OPTIONS = `common options: --url URL (default http://127.0.0.1:8787) --token T --data DIR (default .faultline) --help
`;

/** A value as one word of a shell command line: quoted unless it is plainly safe. */
const shellWord = (value: string): string =>
  /^[A-Za-z0-9_.:/@%+=,-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;

/** Each command's own usage lines (tokens, hosts and announce keep theirs beside their code). */
const COMMAND_USAGE = {
  incidents: `  faultline incidents [--status S] [--domain D] [--host H] [--since T] [--until T] [--limit N] [--cursor C] [--json]
    newest first, a page at a time (50 unless --limit); the last line says how to ask for the next
`,
  incident: `  faultline incident <id> [--json]
    the incident, every affected host and every row of its timeline (read page by page)
`,
  stats: `  faultline stats [--since T] [--json]
`,
  topology: `  faultline topology [--domain D] [--spof] [--json]
`,
  impact: `  faultline impact <domain> [--json]
`,
  approve: `  faultline approve <id> [--canary <hostId>] [--json]
`,
  resolve: `  faultline resolve <id> [--json]
    resolves the incident by hand (a page it sent resolves too): correlate applies it in a moment
`,
  pause: `  faultline pause [--json]
    stops dispatching plans, everywhere, until \`faultline resume\`
`,
  resume: `  faultline resume [--domain D] [--json]
    ends the pause; with --domain, lifts that failure domain's halt instead
`,
  maintenance: `  faultline maintenance <host|domain> on|off [--json]
`,
} as const;

/** The usage a command prints for --help (on stdout) and with a usage error (on stderr): its own. */
const usageOf = (command: (typeof OPERATOR_COMMANDS)[number]): string => {
  switch (command) {
    case 'hosts':
      return `${HOSTS_USAGE}${COMMON_OPTIONS}`;
    case 'tokens':
      return `${TOKENS_USAGE}${COMMON_OPTIONS}`;
    case 'announce':
      return `${ANNOUNCE_USAGE}${COMMON_OPTIONS}`;
    default:
      return `usage:\n${COMMAND_USAGE[command]}${COMMON_OPTIONS}`;
  }
};

/**
 * The positionals of a command line, and the failure domains given after `--serves` as further
 * words (`--serves vscsi:S/vios1 vscsi:S/vios2`): a word that follows a `--serves` value (or
 * another such word) and looks like a failure domain (it has a `:`, which no host id, command or
 * verb has) is one more value of `--serves`.
 */
const splitServes = (
  tokens: NonNullable<ReturnType<typeof parseArgs>['tokens']>,
): { positionals: string[]; serves: string[] } => {
  const positionals: string[] = [];
  const serves: string[] = [];
  let afterServes = false;
  for (const token of tokens) {
    if (token.kind === 'option') {
      afterServes = token.name === 'serves' && token.value !== undefined;
      if (afterServes && token.value !== undefined) serves.push(token.value);
    } else if (token.kind === 'positional') {
      if (afterServes && token.value.includes(':')) serves.push(token.value);
      else {
        afterServes = false;
        positionals.push(token.value);
      }
    } else afterServes = false;
  }
  return { positionals, serves };
};

export const OPERATOR_COMMANDS = [
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

export const runOperator = async (
  command: (typeof OPERATOR_COMMANDS)[number],
  args: readonly string[],
  streams: Streams,
  env: OperatorEnvironment,
): Promise<number> => {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      tokens: true,
      options: {
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        url: { type: 'string' },
        token: { type: 'string' },
        data: { type: 'string' },
        status: { type: 'string' },
        domain: { type: 'string' },
        host: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        limit: { type: 'string' },
        cursor: { type: 'string' },
        canary: { type: 'string' },
        operator: { type: 'boolean' },
        spof: { type: 'boolean' },
        label: { type: 'string' },
        role: { type: 'string' },
        serves: { type: 'string', multiple: true },
        reason: { type: 'string' },
        'booted-at': { type: 'string' },
      },
    });
  } catch (error) {
    streams.stderr(`faultline ${command}: ${(error as Error).message}\n${usageOf(command)}`);
    return EXIT.usage;
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help === true) {
    streams.stdout(usageOf(command));
    return EXIT.ok;
  }
  const text = (key: string): string | undefined =>
    typeof values[key] === 'string' ? (values[key] as string) : undefined;
  const connection = connectionOf({ url: text('url'), token: text('token'), data: text('data') }, env);
  const json = values.json === true;
  const print = (value: unknown, human: () => string) =>
    streams.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : human());
  const { positionals, serves } = splitServes(parsed.tokens ?? []);
  const context: CommandContext = {
    connection,
    positionals,
    text,
    list: (key) => (key === 'serves' ? serves : []),
    flag: (key) => values[key] === true,
    print,
    note: (text) => streams.stderr(text),
  };
  const [first, second, ...rest] = positionals;
  const usage = () => {
    streams.stderr(usageOf(command));
    return EXIT.usage;
  };
  try {
    switch (command) {
      case 'incidents': {
        if (first !== undefined) return usage();
        const query = new URLSearchParams();
        const asked: string[] = [];
        for (const key of ['status', 'domain', 'host', 'since', 'until', 'limit', 'cursor']) {
          const value = text(key);
          if (value === undefined) continue;
          query.set(key, value);
          if (key !== 'cursor') asked.push(`--${key} ${shellWord(value)}`);
        }
        const path = `/v1/incidents${query.size > 0 ? `?${query}` : ''}`;
        const page = await call(connection, 'GET', path);
        const { incidents, cursor } = answer(IncidentList, page, `GET ${path}`);
        // Not every incident fits a page: the last line says so, and how to read on.
        const more =
          cursor === null
            ? ''
            : `more incidents: faultline incidents ${[...asked, `--cursor ${shellWord(cursor)}`].join(' ')}\n`;
        print(page, () => (incidents.length === 0 ? 'no incidents\n' : `${incidentRows(incidents)}${more}`));
        return 0;
      }
      case 'incident': {
        if (first === undefined || second !== undefined) return usage();
        const detail = await wholeIncident(connection, first);
        const { incident } = detail;
        const timeline = detail.timeline.items;
        const hosts = detail.affectedHosts.items;
        print(detail, () =>
          [
            incidentRows([incident]),
            hosts.length === 0
              ? ''
              : `\naffected hosts (${hosts.length})\n${table(
                  ['HOST', 'STATUS', 'PLAN', 'REASON'],
                  hosts.map((host) => [host.hostId, host.status, host.planId ?? '-', host.reason ?? '']),
                )}`,
            `\ntimeline (${timeline.length} ${timeline.length === 1 ? 'row' : 'rows'})\n${table(
              ['AT', 'HOST', 'WHAT'],
              timeline.map((entry) => [entry.at, entry.hostId ?? '-', entry.text]),
            )}`,
          ].join(''),
        );
        return 0;
      }
      case 'stats': {
        if (first !== undefined) return usage();
        const since = text('since');
        const path = `/v1/stats${since === undefined ? '' : `?since=${encodeURIComponent(since)}`}`;
        const stats = answer(StatsBody, await call(connection, 'GET', path), `GET ${path}`);
        print(stats, () =>
          [
            `${stats.incidents ?? 0} incident(s); time to detect ${seconds(stats.timeToDetect?.meanSeconds)} (max ${seconds(stats.timeToDetect?.maxSeconds)}), time to heal ${seconds(stats.timeToHeal?.meanSeconds)} (max ${seconds(stats.timeToHeal?.maxSeconds)})\n`,
            table(
              ['FAILURE DOMAIN', 'INCIDENTS', 'OPEN', 'RESOLVED', 'DETECT', 'HEAL'],
              (stats.byDomain ?? []).map((domain) => [
                domain.failureDomain,
                String(domain.incidents),
                String(domain.open),
                String(domain.resolved),
                seconds(domain.timeToDetect.meanSeconds),
                seconds(domain.timeToHeal.meanSeconds),
              ]),
            ),
            stats.pages === undefined ? '' : `pages go to: ${stats.pages.description}\n`,
          ].join(''),
        );
        return 0;
      }
      case 'topology': {
        if (first !== undefined) return usage();
        const domain = text('domain');
        const hosts: TopologyHostBody[] = [];
        const spofs: SinglePointOfFailureBody[] = [];
        let cursor: string | null = null;
        do {
          const query = new URLSearchParams({ limit: '1000' });
          if (domain !== undefined) query.set('domain', domain);
          if (cursor !== null) query.set('cursor', cursor);
          const path = `/v1/topology?${query}`;
          const page = answer(TopologyBody, await call(connection, 'GET', path), `GET ${path}`);
          hosts.push(...page.hosts);
          spofs.push(...page.singlePointsOfFailure);
          cursor = page.cursor;
        } while (cursor !== null);
        const nothing = spofs.length === 0 ? 'no single point of failure\n' : '';
        if (values.spof === true)
          print(
            { singlePointsOfFailure: spofs },
            () => nothing || `single points of failure\n${spofRows(spofs)}`,
          );
        else
          print({ hosts, singlePointsOfFailure: spofs }, () =>
            [
              hosts.length === 0 ? 'no hosts\n' : topologyRows(hosts),
              nothing ? `\n${nothing}` : `\nsingle points of failure\n${spofRows(spofs)}`,
            ].join(''),
          );
        return 0;
      }
      case 'impact': {
        if (first === undefined || second !== undefined) return usage();
        const path = `/v1/domains/${encodeURIComponent(first)}/impact`;
        const impact = answer(DomainImpactBody, await call(connection, 'GET', path), `GET ${path}`);
        print(impact, () =>
          [
            `if ${impact.failureDomain} goes down now: ${impact.losingHalf} host(s) lose a half, ${impact.losingLast} would lose their last in-sync copy or path\n`,
            impact.hosts.length === 0
              ? ''
              : table(
                  ['HOST', 'LOSES', 'RESOURCE', 'LEFT ON'],
                  impact.hosts.flatMap((host) =>
                    host.resources.map((resource) => [
                      host.hostId,
                      resource.losesLast ? 'LAST' : 'half',
                      `${resource.kind} ${resource.name}${resource.degraded ? ' (already degraded)' : ''}`,
                      resource.remainingDomains.map(shortDomain).join(', ') || '-',
                    ]),
                  ),
                ),
          ].join(''),
        );
        return 0;
      }
      case 'approve': {
        if (first === undefined || second !== undefined) return usage();
        const canary = text('canary');
        const answer = await call(
          connection,
          'POST',
          `/v1/incidents/${encodeURIComponent(first)}/approve`,
          canary === undefined ? {} : { canaryHost: canary },
        );
        print(
          answer,
          () => `approved the next wave of ${first}${canary === undefined ? '' : ` (canary ${canary})`}\n`,
        );
        return 0;
      }
      case 'resolve': {
        if (first === undefined || second !== undefined) return usage();
        const path = `/v1/incidents/${encodeURIComponent(first)}/resolve`;
        const queued = answer(CommandAccepted, await call(connection, 'POST', path, {}), `POST ${path}`);
        print(
          queued,
          () =>
            `resolving ${first}: queued as ${queued.commandId}; \`faultline incident ${first}\` shows it resolved once applied\n`,
        );
        return 0;
      }
      case 'pause':
      case 'resume': {
        if (first !== undefined) return usage();
        const domain = text('domain');
        if (command === 'pause' && domain !== undefined)
          throw new UsageError(
            'pause stops dispatch everywhere; --domain goes with resume, to lift one halted domain',
          );
        const answer = await call(
          connection,
          'POST',
          `/v1/control/${command}`,
          domain === undefined ? {} : { failureDomain: domain },
        );
        print(answer, () =>
          command === 'pause'
            ? 'paused: no new plan will be dispatched until `faultline resume`\n'
            : `resumed${domain === undefined ? '' : ` ${domain}`}\n`,
        );
        return 0;
      }
      case 'maintenance': {
        if (first === undefined || (second !== 'on' && second !== 'off') || rest.length > 0) return usage();
        const kind = FailureDomain.safeParse(first).success ? 'domain' : 'host';
        const answer = await call(connection, 'PUT', `/v1/maintenance/${kind}/${encodeURIComponent(first)}`, {
          on: second === 'on',
        });
        print(answer, () => `maintenance ${second} for ${kind} ${first}\n`);
        return 0;
      }
      case 'tokens':
        return await runTokens(context);
      case 'hosts':
        return await runHosts(context);
      case 'announce':
        return await runAnnounce(context);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      streams.stderr(`faultline ${command}: ${error.message}\n${usageOf(command)}`);
      return error.exitCode;
    }
    if (error instanceof OperatorError) {
      streams.stderr(`faultline ${command}: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
};
