import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  DomainImpactBody,
  FailureDomain,
  type IncidentBody,
  IncidentDetailBody,
  IncidentList,
  issuesText,
  parseWith,
  type SinglePointOfFailureBody,
  StatsBody,
  TopologyBody,
  type TopologyHostBody,
} from '../events/index.ts';
import type { Streams } from './streams.ts';

/**
 * The operator commands of docs/architecture.md §6 against a running control plane: `incidents`, `incident`,
 * `stats`, `topology`, `impact`, `approve`, `pause`, `resume`, `maintenance`, `tokens create`. Tables for people, `--json`
 * for scripts. The control plane's URL and operator token come from `--url`/`--token`, else
 * `FAULTLINE_URL`/`FAULTLINE_TOKEN`, else the files `faultline up` writes in its data folder.
 */

export const OperatorEnvironment = z.object({
  FAULTLINE_URL: z.url().optional(),
  FAULTLINE_TOKEN: z.string().min(1).optional(),
  FAULTLINE_DATA: z.string().min(1).optional(),
});
export type OperatorEnvironment = z.infer<typeof OperatorEnvironment>;

export const DEFAULT_URL = 'http://127.0.0.1:8787';
export const DEFAULT_DATA = '.faultline';
/** Files `faultline up` leaves in its data folder for the operator commands on the same machine. */
export const DATA_FILES = { url: 'url', operatorToken: 'operator-token' } as const;

class OperatorError extends Error {
  override readonly name = 'OperatorError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

type Connection = { url: string; token: string | undefined };

const readIfPresent = (path: string): string | undefined =>
  existsSync(path) ? readFileSync(path, 'utf8').trim() || undefined : undefined;

const connectionOf = (
  values: { url?: string | undefined; token?: string | undefined; data?: string | undefined },
  env: OperatorEnvironment,
): Connection => {
  const data = values.data ?? env.FAULTLINE_DATA ?? DEFAULT_DATA;
  return {
    url: (
      values.url ??
      env.FAULTLINE_URL ??
      readIfPresent(join(data, DATA_FILES.url)) ??
      DEFAULT_URL
    ).replace(/\/$/, ''),
    token: values.token ?? env.FAULTLINE_TOKEN ?? readIfPresent(join(data, DATA_FILES.operatorToken)),
  };
};

const call = async (
  connection: Connection,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> => {
  let response: Response;
  try {
    response = await fetch(`${connection.url}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(connection.token === undefined ? {} : { authorization: `Bearer ${connection.token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new OperatorError(
      `the control plane is not answering at ${connection.url} (${(error as Error).cause ?? (error as Error).message}); start it with \`npm start\` or point --url at it`,
      3,
    );
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: reported as text below
  }
  if (response.status === 401) {
    throw new OperatorError(
      'the control plane refused the token: pass --token or set FAULTLINE_TOKEN to the operator token `faultline up` printed',
      4,
    );
  }
  if (!response.ok) {
    const error = (
      parsed as {
        error?: { code?: string; message?: string; issues?: { path: unknown[]; message: string }[] };
      }
    )?.error;
    const issues = (error?.issues ?? [])
      .map((issue) => `\n  ${issue.path.join('.') || '(body)'}: ${issue.message}`)
      .join('');
    throw new OperatorError(`${response.status} ${error?.code ?? ''}: ${error?.message ?? text}${issues}`, 1);
  }
  return parsed;
};

const pad = (text: string, width: number): string =>
  text.length >= width ? text : text + ' '.repeat(width - text.length);

/** A plain table: a header, then one row per item, columns as wide as their widest cell. */
export const table = (header: readonly string[], rows: readonly (readonly string[])[]): string => {
  const widths = header.map((title, index) =>
    Math.max(title.length, ...rows.map((row) => (row[index] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => (index === cells.length - 1 ? cell : pad(cell, widths[index] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
};

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

/** An answer read through the API's own schema (events/api.ts): a mismatch is an error, not a guess. */
const answer = <S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> => {
  const parsed = parseWith(schema, value);
  if (parsed.ok) return parsed.value;
  throw new OperatorError(`${what} answered outside the API's contract: ${issuesText(parsed.issues)}`, 1);
};

const USAGE = `usage:
  faultline incidents [--status S] [--domain D] [--host H] [--since T] [--until T] [--limit N] [--json]
  faultline incident <id> [--json]
  faultline stats [--since T] [--json]
  faultline topology [--domain D] [--spof] [--json]
  faultline impact <domain> [--json]
  faultline approve <id> [--canary <hostId>]
  faultline pause | resume [--domain D]
  faultline maintenance <host|domain> on|off
  faultline tokens create --host <hostId> | --operator
common options: --url URL (default ${DEFAULT_URL}) --token T --data DIR (default ${DEFAULT_DATA})
`;

export const OPERATOR_COMMANDS = [
  'incidents',
  'incident',
  'stats',
  'topology',
  'impact',
  'approve',
  'pause',
  'resume',
  'maintenance',
  'tokens',
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
      options: {
        json: { type: 'boolean' },
        url: { type: 'string' },
        token: { type: 'string' },
        data: { type: 'string' },
        status: { type: 'string' },
        domain: { type: 'string' },
        host: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        limit: { type: 'string' },
        canary: { type: 'string' },
        operator: { type: 'boolean' },
        spof: { type: 'boolean' },
      },
    });
  } catch (error) {
    streams.stderr(`faultline ${command}: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const text = (key: string): string | undefined =>
    typeof values[key] === 'string' ? (values[key] as string) : undefined;
  const connection = connectionOf({ url: text('url'), token: text('token'), data: text('data') }, env);
  const json = values.json === true;
  const print = (value: unknown, human: () => string) =>
    streams.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : human());
  const [first, second, ...rest] = parsed.positionals;
  const usage = () => {
    streams.stderr(USAGE);
    return 2;
  };
  try {
    switch (command) {
      case 'incidents': {
        if (first !== undefined) return usage();
        const query = new URLSearchParams();
        for (const key of ['status', 'domain', 'host', 'since', 'until', 'limit']) {
          const value = text(key);
          if (value !== undefined) query.set(key, value);
        }
        const path = `/v1/incidents${query.size > 0 ? `?${query}` : ''}`;
        const page = await call(connection, 'GET', path);
        const { incidents } = answer(IncidentList, page, `GET ${path}`);
        print(page, () => (incidents.length === 0 ? 'no incidents\n' : incidentRows(incidents)));
        return 0;
      }
      case 'incident': {
        if (first === undefined || second !== undefined) return usage();
        const path = `/v1/incidents/${encodeURIComponent(first)}`;
        const detail = await call(connection, 'GET', path);
        const {
          incident,
          timeline: timelinePage,
          affectedHosts,
        } = answer(IncidentDetailBody, detail, `GET ${path}`);
        const timeline = timelinePage.items;
        const hosts = affectedHosts.items;
        print(detail, () =>
          [
            incidentRows([incident]),
            hosts.length === 0
              ? ''
              : `\naffected hosts\n${table(
                  ['HOST', 'STATUS', 'PLAN', 'REASON'],
                  hosts.map((host) => [host.hostId, host.status, host.planId ?? '-', host.reason ?? '']),
                )}`,
            `\ntimeline\n${table(
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
      case 'pause':
      case 'resume': {
        if (first !== undefined) return usage();
        const domain = text('domain');
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
      case 'tokens': {
        const host = text('host');
        if (first !== 'create' || second !== undefined || (host === undefined) === (values.operator !== true))
          return usage();
        const answer = (await call(
          connection,
          'POST',
          '/v1/tokens',
          host === undefined ? { kind: 'operator' } : { kind: 'agent', hostId: host },
        )) as {
          token?: string;
        };
        print(answer, () => `${answer.token}\n`);
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof OperatorError) {
      streams.stderr(`faultline ${command}: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
};
