import { describe, expect, it } from 'vitest';
import { PLAN_ACTIONS, parsePlan } from '../../events/index.ts';
import { example } from '../helpers/examples.ts';

const plan = (mutate: (plan: ReturnType<typeof example>) => void) => () => {
  const value = example('plan');
  mutate(value);
  return value;
};

const INVALID_PLANS: [string, () => unknown, (string | number)[]][] = [
  [
    'an unknown action',
    plan((p) => p.steps.push({ action: 'md.format', array: 'md0' })),
    ['steps', 17, 'action'],
  ],
  [
    'no steps',
    plan((p) => {
      p.steps = [];
    }),
    ['steps'],
  ],
  ['a first step that is not disk.probe', plan((p) => p.steps.shift()), ['steps', 0, 'action']],
  [
    'a negative ttlSeconds',
    plan((p) => {
      p.ttlSeconds = -60;
    }),
    ['ttlSeconds'],
  ],
  [
    'a zero ttlSeconds',
    plan((p) => {
      p.ttlSeconds = 0;
    }),
    ['ttlSeconds'],
  ],
  [
    'no signature',
    plan((p) => {
      delete p.signature;
    }),
    ['signature'],
  ],
  [
    'a signature that is not base64',
    plan((p) => {
      p.signature = 'signed; trust me';
    }),
    ['signature'],
  ],
  [
    'a scsi.rescan of host1/../../etc',
    plan((p) => {
      p.steps[5].scsiHost = 'host1/../../etc';
    }),
    ['steps', 5, 'scsiHost'],
  ],
  [
    'a scsi.rescan with a negative lun',
    plan((p) => {
      p.steps[5].lun = -1;
    }),
    ['steps', 5, 'lun'],
  ],
  [
    'a scsi.delete of a path',
    plan((p) => {
      p.steps[4].hctl = '1:0:2:0/../../../../block';
    }),
    ['steps', 4, 'hctl'],
  ],
  [
    'an md.fail of a shell command',
    plan((p) => {
      p.steps[1].member = 'sdb1 && reboot';
    }),
    ['steps', 1, 'member'],
  ],
  [
    'an md.add with an extra argument',
    plan((p) => {
      p.steps[7].force = true;
    }),
    ['steps', 7],
  ],
  [
    'an unknown mode',
    plan((p) => {
      p.mode = 'yolo';
    }),
    ['mode'],
  ],
  [
    'an attempt of zero',
    plan((p) => {
      p.attempt = 0;
    }),
    ['attempt'],
  ],
  [
    'a fractional wave',
    plan((p) => {
      p.wave = 0.5;
    }),
    ['wave'],
  ],
  [
    'an issuedAt that is not a date',
    plan((p) => {
      p.issuedAt = 'now';
    }),
    ['issuedAt'],
  ],
  [
    'a host id with whitespace',
    plan((p) => {
      p.hostId = 'lnx client';
    }),
    ['hostId'],
  ],
  [
    'an unknown fastPath action',
    plan((p) => p.fastPath.push({ action: 'dd', of: 'sdb' })),
    ['fastPath', 2, 'action'],
  ],
  [
    'a metareplace of a traversal',
    plan((p) => {
      p.steps[11].component = '../c0d1s0';
    }),
    ['steps', 11, 'component'],
  ],
  [
    'a multipath.reinstate with whitespace',
    plan((p) => {
      p.steps[13].path = 'sdd sde';
    }),
    ['steps', 13, 'path'],
  ],
  [
    'a reinstate checked for zero seconds',
    plan((p) => {
      p.steps[13].checkSeconds = 0;
    }),
    ['steps', 13, 'checkSeconds'],
  ],
  [
    'an scsi.online of a partition',
    plan((p) => {
      p.steps[14].disk = 'sdd1';
    }),
    ['steps', 14, 'disk'],
  ],
  [
    'an md.zero-superblock without the uuid it must find',
    plan((p) => {
      delete p.steps[15].uuid;
    }),
    ['steps', 15, 'uuid'],
  ],
  [
    'an svm.metadb-restore of no replica',
    plan((p) => {
      p.steps[16].count = 0;
    }),
    ['steps', 16, 'count'],
  ],
  [
    'a wait-sync with no stall limit',
    plan((p) => {
      delete p.steps[9].stallSeconds;
    }),
    ['steps', 9, 'stallSeconds'],
  ],
  [
    'an unknown top-level field',
    plan((p) => {
      p.runAsShell = true;
    }),
    [],
  ],
];

describe('parsePlan', () => {
  it('parses the example plan, which uses every action of docs/architecture.md §4', () => {
    const result = parsePlan(example('plan'));
    if (!result.ok) expect.fail(JSON.stringify(result.issues));
    const actions = new Set(
      [...result.value.steps, ...(result.value.fastPath ?? [])].map((step) => step.action),
    );
    expect([...actions].sort()).toEqual([...PLAN_ACTIONS].sort());
  });

  it.each(INVALID_PLANS)('rejects a plan with %s at its path', (_name, input, path) => {
    const result = parsePlan(input());
    if (result.ok) expect.fail('accepted an invalid plan');
    expect(result.issues.map((issue) => issue.path)).toContainEqual(path);
  });
});
