import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Collect bodies of the sh agent (`POST /v1/agents/:hostId/collect`, docs/architecture.md §6),
 * built from the real-format tool outputs of test/fixtures/agent/ (metastat, metadb -i, ldm list
 * -p, ldm list -o disk -p), and the states an LDoms guest and its control domain go through when
 * the alternate service domain reboots.
 */

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'agent');

export const fixture = (folder: string, name: string): string =>
  readFileSync(join(FIXTURES, folder, name), 'utf8');

/** A guest's two mirrors, `d0` and `d1`, with the alternate's halves (`c0d2`) in Maintenance. */
export const METASTAT_NEEDS_MAINTENANCE = fixture('metastat', 'needs-maintenance.txt');

const withoutInvoke = (text: string): string => text.replace(/^ *Invoke:.*\n/gm, '');

/** The same guest before the outage: every submirror and component Okay. */
export const METASTAT_OKAY = withoutInvoke(
  METASTAT_NEEDS_MAINTENANCE.replaceAll('State: Needs maintenance ', 'State: Okay             ').replaceAll(
    'Maintenance   Yes',
    '       Okay   Yes',
  ),
);

/** The same guest once `metareplace -e` ran: the alternate's halves resyncing, 37 % done. */
export const METASTAT_RESYNCING = withoutInvoke(
  METASTAT_NEEDS_MAINTENANCE.replaceAll('State: Needs maintenance ', 'State: Resyncing        ')
    .replaceAll('Maintenance   Yes', '  Resyncing   Yes')
    .replaceAll('    Pass: 1\n', '    Resync in progress: 37 % done\n    Pass: 1\n'),
);

export const METADB_HEALTHY = fixture('metadb', 'healthy.txt');
export const METADB_IN_ERROR = fixture('metadb', 'replicas-in-error.txt');

/** The control domain's `ldm list -p`: primary (the control domain), alternate, ldg1 active. */
export const LDM_LIST = fixture('ldm', 'list-parseable.txt');
export const LDM_DISKS = fixture('ldm-disks', 'list-disks-parseable.txt');

const ALTERNATE_LINE = /^DOMAIN\|name=alternate\|.*$/m;

/** `ldm list -p` with the alternate service domain stopped (`ldm stop`: bound). */
export const LDM_LIST_ALTERNATE_STOPPED = LDM_LIST.replace(
  ALTERNATE_LINE,
  'DOMAIN|name=alternate|state=bound|flags=------|cons=5000|ncpu=8|mem=17179869184|util=|uptime=|norm_util=',
);

/** `ldm list -p` with the alternate running again, up `uptime` seconds. */
export const ldmListAlternateUp = (uptime: number): string =>
  LDM_LIST.replace(
    ALTERNATE_LINE,
    `DOMAIN|name=alternate|state=active|flags=-n--v-|cons=5000|ncpu=8|mem=17179869184|util=0.4|uptime=${uptime}|norm_util=0.4`,
  );

export interface HostFields {
  readonly seq: number;
  readonly time: string;
  readonly bootid?: string;
  readonly role?: 'client' | 'control';
  readonly bootedAt?: string;
  readonly agentVersion?: string;
  /** Extra lines, as written. */
  readonly extra?: readonly string[];
}

export const BOOT = 'boot-4f2a9c1e';
export const BOOTED_AT = '2026-11-20T08:00:00.000Z';

export const hostSection = (fields: HostFields): string =>
  [
    '#faultline host',
    'platform=solaris',
    `role=${fields.role ?? 'client'}`,
    `agentVersion=${fields.agentVersion ?? '0.1.0'}`,
    'intervalSeconds=60',
    `bootid=${fields.bootid ?? BOOT}`,
    `bootedAt=${fields.bootedAt ?? BOOTED_AT}`,
    `seq=${fields.seq}`,
    `time=${fields.time}`,
    ...(fields.extra ?? []),
    '',
  ].join('\n');

export const section = (name: string, text: string): string =>
  `#faultline ${name}\n${text}${text.endsWith('\n') || text === '' ? '' : '\n'}`;

/** A collect: the host section, then the sections given (name, text), in that order. */
export const collectBody = (fields: HostFields, sections: Readonly<Record<string, string>> = {}): string =>
  hostSection(fields) +
  Object.entries(sections)
    .map(([name, text]) => section(name, text))
    .join('');
