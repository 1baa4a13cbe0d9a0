import { type LdmOutput, LdomsDomain } from '../events/index.ts';
import { type ProbeWarning, toolLines, WarningLog } from './tool-text.ts';

/**
 * `ldm list` and `ldm list -p` as the Oracle VM Server for SPARC manager prints them (`ldm(8)`):
 * the table (`NAME STATE FLAGS CONS VCPU MEMORY UTIL [NORM] UPTIME`, where an inactive domain
 * leaves CONS, UTIL and UPTIME empty) and the parseable form (`VERSION 1.x`, then
 * `DOMAIN|name=primary|state=active|flags=-n-cv-|cons=UART|...`). Other parseable records
 * (`VCPU|...`, `MEMORY|...` of `ldm list -l -p`) are not domains and are passed over.
 */

export type LdmReading = {
  domains: LdomsDomain[];
  /** The `VERSION` of the parseable form, null for the table. */
  version: string | null;
  warnings: ProbeWarning[];
};

const DOMAIN_STATES: ReadonlySet<string> = new Set(['active', 'bound', 'inactive']);

/** Reads `ldm list` or `ldm list -p` output. Never throws. */
export const parseLdmList = (text: string): LdmReading => {
  const log = new WarningLog();
  const domains: LdomsDomain[] = [];
  let version: string | null = null;
  let sawTableHeader = false;

  for (const line of toolLines(text)) {
    const raw = line.text;
    const trimmed = raw.trim();
    if (trimmed === '') continue;
    const versionLine = /^VERSION\s+(\S+)$/.exec(trimmed);
    if (versionLine !== null) {
      version = versionLine[1] ?? null;
      continue;
    }
    if (trimmed.startsWith('DOMAIN|')) {
      const domain = readParseable(trimmed);
      if (typeof domain === 'string') log.add(line.number, raw, domain);
      else domains.push(domain);
      continue;
    }
    if (/^[A-Z_]+\|/.test(trimmed) || trimmed.startsWith('|')) continue;
    if (/^NAME\s+STATE\s+FLAGS\b/i.test(trimmed)) {
      sawTableHeader = true;
      continue;
    }
    if (!sawTableHeader) {
      log.add(line.number, raw, 'not an ldm list line');
      continue;
    }
    const domain = readTableRow(trimmed);
    if (typeof domain === 'string') log.add(line.number, raw, domain);
    else domains.push(domain);
  }
  return { domains, version, warnings: log.collect() };
};

const readParseable = (line: string): LdomsDomain | string => {
  const fields = new Map<string, string>();
  for (const field of line.split('|').slice(1)) {
    const equals = field.indexOf('=');
    if (equals > 0) fields.set(field.slice(0, equals), field.slice(equals + 1));
  }
  return toDomain(fields.get('name'), fields.get('state'), fields.get('flags'));
};

const readTableRow = (line: string): LdomsDomain | string => {
  const [name, state, flags] = line.split(/\s+/);
  return toDomain(name, state, flags);
};

const toDomain = (
  name: string | undefined,
  state: string | undefined,
  flags: string | undefined,
): LdomsDomain | string => {
  if (state === undefined || !DOMAIN_STATES.has(state)) return `domain state '${state ?? ''}' not understood`;
  const parsed = LdomsDomain.safeParse({ name, state, flags: flags ?? '' });
  return parsed.success ? parsed.data : `domain '${name ?? ''}' does not fit the ldm parse shape`;
};

/** Exactly the §6 `parse ldm` JSON. */
export const toLdmOutput = (reading: LdmReading): LdmOutput => ({
  domains: reading.domains.map((domain) => ({ ...domain })),
});
