import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DiskName, FailureDomain } from '../../events/index.ts';
import { guestDisksOf, parseLdmDisks } from '../../probes/ldm-disks.ts';
import { parseLdmServices } from '../../probes/ldm-services.ts';
import { ldmDomainUptimes } from '../../probes/ldm-uptime.ts';
import { WARNING_COUNT_LIMIT } from '../../probes/tool-text.ts';
import { parseLsmap, parseLsmapNpiv, viosServing } from '../../probes/vios-lsmap.ts';
import { parseWhoBoot } from '../../probes/who-boot.ts';
import { toolFixtures } from '../helpers/agent-probes.ts';

/** Runs per property: enough to find a crash in a line-driven parser, quick on a shared machine. */
const RUNS = 500;

const FIXTURES = ['ldm-services', 'ldm-disks', 'vios', 'who', 'ldm'].flatMap((folder) =>
  toolFixtures(folder).map((fixture) => fixture.text),
);

/** A fixture with lines dropped, duplicated, cut or joined with noise: what a broken capture looks like. */
const mangled = fc
  .tuple(
    fc.constantFrom(...FIXTURES),
    fc.array(fc.tuple(fc.nat(), fc.constantFrom('drop', 'dup', 'cut', 'noise')), { maxLength: 8 }),
    fc.string({
      unit: fc.constantFrom(...'|=@:-_ \t\r\nVDSKDOMAIN0123456789abvhostLUNStatus'),
      maxLength: 40,
    }),
  )
  .map(([text, edits, noise]) => {
    const lines = text.split('\n');
    for (const [at, edit] of edits) {
      const index = lines.length === 0 ? 0 : at % lines.length;
      const line = lines[index] ?? '';
      if (edit === 'drop') lines.splice(index, 1);
      else if (edit === 'dup') lines.splice(index, 0, line);
      else if (edit === 'cut') lines[index] = line.slice(0, at % (line.length + 1));
      else lines[index] = `${line}${noise}`;
    }
    return lines.join('\n');
  });

const anyText = fc.oneof(
  mangled,
  fc.string({ maxLength: 400 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

describe('the server parsers on any input', () => {
  it('never throw, bound their warnings and yield only names the contract accepts', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const services = parseLdmServices(text);
        const disks = parseLdmDisks(text);
        const lsmap = parseLsmap(text);
        const npiv = parseLsmapNpiv(text);
        viosServing(lsmap, npiv, { servedBefore: null, settled: false });
        viosServing(lsmap, null, { servedBefore: ['vtd:vtscsi0', 'vfchost:vfchost0'], settled: true });
        ldmDomainUptimes(text);
        parseWhoBoot(text, new Date('2026-12-01T00:00:00Z'));
        for (const reading of [services, disks, lsmap, npiv]) {
          expect(reading.warnings.length).toBeLessThanOrEqual(WARNING_COUNT_LIMIT + 1);
        }
        const placed = guestDisksOf(disks, { controlHostId: 'cdom1', services: services.services });
        for (const guest of placed.guests) {
          expect(DiskName.safeParse(guest.disk).success).toBe(true);
          expect(FailureDomain.safeParse(guest.failureDomain).success).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
