import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  ArrayName,
  DeviceName,
  DiskName,
  FailureDomain,
  Hctl,
  HostId,
  MapName,
  ScsiHost,
} from '../../events/index.ts';

const NAMES = { DeviceName, DiskName, ArrayName, Hctl, ScsiHost, HostId, MapName, FailureDomain };

describe('names', () => {
  it.each([
    [
      'DeviceName',
      ['sdb3', 'sda', 'nvme0n1p2', 'dm-3', 'c0d0s0', 'c0t5000CCA02A1B2C3Dd0s0', 'vdb1', 'xvdf2'],
    ],
    ['DiskName', ['sdb', 'sdaa', 'nvme0n1', 'dm-3', 'c0d1', 'c0t5000CCA02A1B2C3Dd0']],
    ['ArrayName', ['md0', 'md127', 'md_d0', 'd0', 'd10']],
    ['Hctl', ['1:0:2:0', '0:0:0:0', '12:3:45:16384']],
    ['ScsiHost', ['host0', 'host1', 'host12']],
    ['HostId', ['lnxclient07', 'lnxclient07.example.net', 'LPAR_01']],
    ['MapName', ['mpatha', '3600507680c80810c1800000000000a3f', 'oradata_01']],
    [
      'FailureDomain',
      [
        'vscsi:Server-9080-M9S-SN78AB12C/vios2',
        'vdisk:t5-control/alternate',
        'fc:500507680c110a3f',
        'local:lnx07',
      ],
    ],
  ] as const)('%s accepts the shapes real ones have', (schema, values) => {
    for (const value of values) expect(NAMES[schema].safeParse(value).success, value).toBe(true);
  });

  it.each([
    ['DeviceName', ['sdb3 ', '/dev/sdb3', 'sdb3;', 'SDB3', '..', 'md0']],
    ['ArrayName', ['md', '/dev/md0', 'md0 ', 'd0s0']],
    ['Hctl', ['1:0:2', '1:0:2:0:0', 'a:b:c:d', '#:#:#:#']],
    ['ScsiHost', ['host', 'host1/', 'Host1']],
    ['FailureDomain', ['vscsi:vios2', 'vscsi:a/b/c', 'fc:xyz', 'vdisk:a/..']],
  ] as const)('%s rejects look-alikes', (schema, values) => {
    for (const value of values) expect(NAMES[schema].safeParse(value).success, value).toBe(false);
  });

  const dangerous = fc.oneof(
    fc.constantFrom(
      '/',
      '..',
      ' ',
      '\t',
      '\n',
      ';',
      '&',
      '|',
      '$',
      '`',
      '(',
      ')',
      '<',
      '>',
      '*',
      '?',
      "'",
      '"',
      '\\',
    ),
  );
  test.prop([fc.constantFrom(...Object.keys(NAMES)), fc.string(), dangerous, fc.string()], { numRuns: 2000 })(
    'no name ever carries a slash, .., whitespace or a shell metacharacter (but a failure domain its one /)',
    (schema, before, bad, after) => {
      const value = `${before}${bad}${after}`;
      const accepted = NAMES[schema as keyof typeof NAMES].safeParse(value).success;
      if (schema === 'FailureDomain' && accepted) {
        expect(value.split('/').length).toBeLessThanOrEqual(2);
        expect(value).not.toMatch(/\.\.|\s|[;&|$`()<>*?'"\\]/);
      } else {
        expect(accepted).toBe(false);
      }
    },
  );
});
