import { ldmRecords } from './ldm-services.ts';
import { toCount } from './tool-text.ts';

/**
 * The `uptime=` field of `ldm list -p` (`DOMAIN|name=alternate|state=active|flags=-n--v-|...|
 * uptime=1052940|...`): seconds since the domain was last started or reset, empty for a domain
 * that is not running. probes/ldm.ts reads the domains' states; this reads only their uptimes, by
 * domain name, so a control domain can date a service domain's boot and tell that it rebooted
 * between two looks (its uptime is shorter than the time since the first look).
 */
export const ldmDomainUptimes = (text: string): Map<string, number | null> => {
  const uptimes = new Map<string, number | null>();
  for (const record of ldmRecords(text).records) {
    if (record.type !== 'DOMAIN') continue;
    const name = record.fields.get('name');
    if (name === undefined || name === '') continue;
    uptimes.set(name, toCount(record.fields.get('uptime')));
  }
  return uptimes;
};
