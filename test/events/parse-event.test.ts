import { fc, test as property } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  arrayElementBytes,
  EVENT_TYPES,
  LIMITS,
  parseEvent,
  parseEventBatch,
  parseEventRead,
} from '../../events/index.ts';
import { example, exampleNames } from '../helpers/examples.ts';

describe('events/examples', () => {
  it('has a valid example of every event type of docs/architecture.md §3', () => {
    expect(exampleNames()).toEqual([...EVENT_TYPES].sort());
  });

  it.each([...EVENT_TYPES])('parses the %s example', (type) => {
    const result = parseEvent(example(type));
    if (!result.ok) expect.fail(JSON.stringify(result.issues));
    expect(result.value.type).toBe(type);
  });

  it('parses an example given as JSON text', () => {
    const result = parseEvent(JSON.stringify(example('mirror.degraded')));
    expect(result.ok).toBe(true);
  });
});

type Mutation = (event: ReturnType<typeof example>) => unknown;
const degraded = (mutate: Mutation) => () => {
  const event = example('mirror.degraded');
  return mutate(event) ?? event;
};
const of = (type: string, mutate: Mutation) => () => {
  const event = example(type);
  return mutate(event) ?? event;
};

const INVALID_EVENTS: [string, () => unknown, (string | number)[]][] = [
  [
    'wrong specversion',
    degraded((e) => {
      e.specversion = '0.3';
    }),
    ['specversion'],
  ],
  [
    'missing id',
    degraded((e) => {
      delete e.id;
    }),
    ['id'],
  ],
  [
    'an empty id',
    degraded((e) => {
      e.id = '';
    }),
    ['id'],
  ],
  [
    'negative seq',
    degraded((e) => {
      e.seq = -1;
    }),
    ['seq'],
  ],
  [
    'fractional seq',
    degraded((e) => {
      e.seq = 1.5;
    }),
    ['seq'],
  ],
  [
    'seq as a string',
    degraded((e) => {
      e.seq = '12';
    }),
    ['seq'],
  ],
  [
    'an unknown type',
    degraded((e) => {
      e.type = 'mirror.exploded';
    }),
    ['type'],
  ],
  [
    'hostid not matching source',
    degraded((e) => {
      e.hostid = 'lnxclient08.example.net';
    }),
    ['hostid'],
  ],
  [
    'a source of another scheme',
    degraded((e) => {
      e.source = 'https://lnxclient07.example.net';
    }),
    ['source'],
  ],
  [
    'a time that is not a date',
    degraded((e) => {
      e.time = 'yesterday at noon';
    }),
    ['time'],
  ],
  [
    'a time without a zone',
    degraded((e) => {
      e.time = '2026-11-22T03:12:09';
    }),
    ['time'],
  ],
  [
    'a receivedat that is not a date',
    degraded((e) => {
      e.receivedat = '2026-13-40T99:00:00Z';
    }),
    ['receivedat'],
  ],
  [
    'a wrong datacontenttype',
    degraded((e) => {
      e.datacontenttype = 'text/plain';
    }),
    ['datacontenttype'],
  ],
  [
    'a member with a shell command',
    degraded((e) => {
      e.data.members[0].device = 'sdb3; rm -rf /';
    }),
    ['data', 'members', 0, 'device'],
  ],
  [
    'a device path traversal',
    degraded((e) => {
      e.data.members[1].device = '../../etc/passwd';
    }),
    ['data', 'members', 1, 'device'],
  ],
  [
    'a device with /dev/',
    degraded((e) => {
      e.data.members[1].device = '/dev/sdb2';
    }),
    ['data', 'members', 1, 'device'],
  ],
  [
    'an array with an option',
    degraded((e) => {
      e.data.array = 'md0 --zero-superblock';
    }),
    ['data', 'array'],
  ],
  [
    'an array with a subshell',
    degraded((e) => {
      e.data.array = 'md$(reboot)';
    }),
    ['data', 'array'],
  ],
  [
    'a disk with a newline',
    degraded((e) => {
      e.data.members[0].disk = 'sda\nsdb';
    }),
    ['data', 'members', 0, 'disk'],
  ],
  [
    'an unknown member state',
    degraded((e) => {
      e.data.members[0].state = 'happy';
    }),
    ['data', 'members', 0, 'state'],
  ],
  [
    'an unknown mirror kind',
    degraded((e) => {
      e.data.kind = 'zfs';
    }),
    ['data', 'kind'],
  ],
  [
    'a failure domain with traversal',
    degraded((e) => {
      e.data.members[1].failureDomain = 'vscsi:../vios2';
    }),
    ['data', 'members', 1, 'failureDomain'],
  ],
  [
    'a malformed md uuid',
    degraded((e) => {
      e.data.uuid = 'not-a-uuid';
    }),
    ['data', 'uuid'],
  ],
  [
    'a missing data',
    degraded((e) => {
      delete e.data;
    }),
    ['data'],
  ],
  [
    'a host id with a slash',
    degraded((e) => {
      e.hostid = 'evil/host';
      e.source = 'faultline-agent://evil/host';
    }),
    ['hostid'],
  ],
  [
    'an hctl of three numbers',
    of('path.lost', (e) => {
      e.data.hctl = '2:0:1';
    }),
    ['data', 'hctl'],
  ],
  [
    'an hctl with traversal',
    of('path.lost', (e) => {
      e.data.hctl = '2:0:1:3/../../';
    }),
    ['data', 'hctl'],
  ],
  [
    'a negative activePaths',
    of('path.lost', (e) => {
      e.data.activePaths = -1;
    }),
    ['data', 'activePaths'],
  ],
  [
    'an unknown path state',
    of('path.lost', (e) => {
      e.data.state = 'broken';
    }),
    ['data', 'state'],
  ],
  [
    'a scsiHost with traversal',
    of('disk.probed', (e) => {
      e.data.scsiHost = 'host1/../../etc';
    }),
    ['data', 'scsiHost'],
  ],
  [
    'an unknown device state',
    of('disk.probed', (e) => {
      e.data.deviceState = 'melted';
    }),
    ['data', 'deviceState'],
  ],
  [
    'a bootedAt that is not a date',
    of('ipl.completed', (e) => {
      e.data.bootedAt = 'soon';
    }),
    ['data', 'bootedAt'],
  ],
  [
    'an unknown domain role',
    of('domain.rebooted', (e) => {
      e.data.role = 'tertiary';
    }),
    ['data', 'role'],
  ],
  [
    'an unknown heartbeat capability',
    of('host.heartbeat', (e) => void e.data.capabilities.push('rm.rf')),
    ['data', 'capabilities', 9],
  ],
  [
    'state database replicas with more active and in error than there are',
    of('host.heartbeat', (e) => {
      e.data.replicas = [{ slice: 'c0d1s7', count: 3, active: 2, erred: 2 }];
    }),
    ['data', 'replicas', 0, 'count'],
  ],
  [
    'state database replicas listing a slice twice',
    of('host.heartbeat', (e) => {
      e.data.replicas = [
        { slice: 'c0d1s7', count: 3, active: 3, erred: 0 },
        { slice: 'c0d1s7', count: 3, active: 0, erred: 3 },
      ];
    }),
    ['data', 'replicas'],
  ],
  [
    'an empty list of state database replicas (absent says unknown)',
    of('host.heartbeat', (e) => {
      e.data.replicas = [];
    }),
    ['data', 'replicas'],
  ],
  [
    'a replica slice given as a path',
    of('host.heartbeat', (e) => {
      e.data.replicas = [{ slice: '/dev/dsk/c0d1s7', count: 3, active: 3, erred: 0 }];
    }),
    ['data', 'replicas', 0, 'slice'],
  ],
  [
    'a fractional replica count',
    of('host.heartbeat', (e) => {
      e.data.replicas = [{ slice: 'c0d1s7', count: 2.5, active: 0, erred: 0 }];
    }),
    ['data', 'replicas', 0, 'count'],
  ],
  [
    'an unknown progress outcome',
    of('command.progress', (e) => {
      e.data.outcome = 'maybe';
    }),
    ['data', 'outcome'],
  ],
  [
    'an unknown progress action',
    of('command.progress', (e) => {
      e.data.action = 'md.zero';
    }),
    ['data', 'action'],
  ],
  [
    'a progress over 100',
    of('mirror.recovering', (e) => {
      e.data.progress = 140;
    }),
    ['data', 'progress'],
  ],
  ['a non-object', () => 'not an event', []],
  ['text that is not JSON', () => '{"specversion":', []],
  [
    'an oversized event',
    degraded((e) => {
      e.data.padding = 'x'.repeat(LIMITS.maxEventBytes);
    }),
    [],
  ],
];

describe('parseEventRead', () => {
  it('takes the size of the text the event was read from, as it travelled', () => {
    const event = example('mirror.degraded');
    const text = JSON.stringify(event);
    expect(parseEventRead(JSON.parse(text), text)).toEqual(parseEvent(event));
    // The same event, padded with blanks past the limit where it travelled: too big.
    const padded = `${text}${' '.repeat(LIMITS.maxEventBytes)}`;
    const result = parseEventRead(JSON.parse(padded), padded);
    if (result.ok) expect.fail('accepted an event whose text is over the limit');
    expect(result.issues[0]?.code).toBe('too_big');
  });
});

describe('parseEvent', () => {
  it.each(INVALID_EVENTS)('rejects %s at its path', (_name, input, path) => {
    const result = parseEvent(input());
    if (result.ok) expect.fail('accepted an invalid event');
    expect(result.issues.map((issue) => issue.path)).toContainEqual(path);
    for (const issue of result.issues) expect(issue.message).not.toBe('');
  });

  it('ignores unknown extension attributes, so old and new agents coexist', () => {
    const event = { ...example('mirror.degraded'), traceparent: '00-abc-def-01', newattribute: 7 };
    const result = parseEvent(event);
    if (!result.ok) expect.fail(JSON.stringify(result.issues));
    expect(result.value).not.toHaveProperty('newattribute');
    expect(result.value.data).toEqual(example('mirror.degraded').data);
  });

  it('accepts a heartbeat with the state database replicas per slice, and one without (an older agent)', () => {
    const event = example('host.heartbeat');
    expect(parseEvent(event).ok).toBe(true);
    event.data.replicas = [
      { slice: 'c0d0s7', count: 3, active: 3, erred: 0 },
      { slice: 'c0d1s7', count: 3, active: 0, erred: 3 },
      { slice: 'c0d2s7', count: 1, active: 0, erred: 0 },
    ];
    const result = parseEvent(event);
    if (!result.ok) expect.fail(JSON.stringify(result.issues));
    expect(result.value.type === 'host.heartbeat' && result.value.data.replicas).toEqual(event.data.replicas);
  });

  it('accepts the real shapes of device names', () => {
    const event = example('mirror.degraded');
    for (const device of ['sdb3', 'nvme0n1p2', 'dm-3', 'c0d0s0', 'c0t5000CCA02A1B2C3Dd0s0']) {
      event.data.members[0].device = device;
      expect(parseEvent(event).ok, device).toBe(true);
    }
    for (const array of ['md0', 'md127', 'd10']) {
      event.data.array = array;
      expect(parseEvent(event).ok, array).toBe(true);
    }
  });
});

describe('parseEventBatch', () => {
  const batchOf = (count: number) =>
    Array.from({ length: count }, (_, seq) => ({ ...example('path.lost'), seq }));

  it('applies the valid events of a batch and rejects the others by index', () => {
    const batch = batchOf(5);
    batch[1] = { ...batch[1], seq: -4 };
    batch[3] = { ...batch[3], type: 'path.vanished' };
    const result = parseEventBatch(batch);
    if (!result.ok) expect.fail(JSON.stringify(result.issues));
    expect(result.value.map((event) => event.seq)).toEqual([0, 2, 4]);
    expect(result.rejected.map((entry) => entry.index)).toEqual([1, 3]);
    expect(result.rejected[0]?.issues[0]?.path).toEqual([1, 'seq']);
    expect(result.rejected[1]?.issues[0]?.path).toEqual([3, 'type']);
  });

  it('rejects a batch of 501 events', () => {
    const result = parseEventBatch(batchOf(501));
    if (result.ok) expect.fail('accepted 501 events');
    expect(result.issues).toEqual([expect.objectContaining({ path: [], code: 'too_big' })]);
  });

  it('accepts a batch of 500 events', () => {
    const result = parseEventBatch(batchOf(500));
    expect(result.ok && result.value.length).toBe(500);
  });

  it('rejects a batch over 1 MiB', () => {
    const batch = batchOf(20).map((event) => ({ ...event, padding: 'x'.repeat(60 * 1024) }));
    const result = parseEventBatch(JSON.stringify(batch));
    if (result.ok) expect.fail('accepted a batch over 1 MiB');
    expect(result.issues[0]).toMatchObject({ path: [], code: 'too_big' });
  });

  it('rejects an event over 64 KiB inside a batch by its index', () => {
    const batch = batchOf(2);
    batch[1] = { ...batch[1], padding: 'x'.repeat(LIMITS.maxEventBytes) } as (typeof batch)[number];
    const result = parseEventBatch(batch);
    if (!result.ok) expect.fail(JSON.stringify(result.issues));
    expect(result.rejected).toEqual([
      { index: 1, issues: [expect.objectContaining({ path: [1], code: 'too_big' })] },
    ]);
  });

  it('measures each event as it stands in the text it was read from, not serialised again', () => {
    const batch = batchOf(3);
    // Whitespace counts where it travelled: pretty-printed, the middle event is over 64 KiB as sent,
    // though it is under the limit once compacted.
    batch[1] = {
      ...batch[1],
      padding: Array.from({ length: 5_000 }, () => 'x'.repeat(10)),
    } as (typeof batch)[number];
    const compact = JSON.stringify(batch);
    expect(Buffer.byteLength(JSON.stringify(batch[1]))).toBeLessThan(LIMITS.maxEventBytes);
    const fromCompact = parseEventBatch(JSON.parse(compact), compact);
    expect(fromCompact.ok && fromCompact.rejected).toEqual([]);
    const pretty = JSON.stringify(batch, null, 2);
    const fromPretty = parseEventBatch(JSON.parse(pretty), pretty);
    if (!fromPretty.ok) expect.fail(JSON.stringify(fromPretty.issues));
    expect(fromPretty.rejected).toEqual([
      { index: 1, issues: [expect.objectContaining({ path: [1], code: 'too_big' })] },
    ]);
    expect(fromPretty.value.map((event) => event.seq)).toEqual([0, 2]);
  });

  it('rejects an element that is not an object by its index, even JSON text of an event', () => {
    const result = parseEventBatch([example('path.lost'), JSON.stringify(example('path.lost')), 7, null]);
    if (!result.ok) expect.fail(JSON.stringify(result.issues));
    expect(result.rejected.map((entry) => entry.issues[0]?.path)).toEqual([[1], [2], [3]]);
  });

  it('rejects an empty batch, a non-array and a batch with no valid event', () => {
    expect(parseEventBatch([])).toMatchObject({ ok: false, issues: [{ path: [] }] });
    expect(parseEventBatch(example('path.lost'))).toMatchObject({ ok: false, issues: [{ path: [] }] });
    const result = parseEventBatch([
      { ...example('path.lost'), seq: -1 },
      { ...example('path.lost'), id: '' },
    ]);
    if (result.ok) expect.fail('accepted a batch with no valid event');
    expect(result.issues.map((issue) => issue.path)).toEqual([
      [0, 'seq'],
      [1, 'id'],
    ]);
  });
});

describe('arrayElementBytes', () => {
  const indented = (text: string, indent: number): string => text.replaceAll('\n', `\n${' '.repeat(indent)}`);

  property.prop([fc.array(fc.jsonValue()), fc.integer({ min: 0, max: 4 })])(
    'answers the UTF-8 size of each element as it stands in the array text, however it is spaced',
    (values, indent) => {
      const text = JSON.stringify(values, null, indent);
      expect(arrayElementBytes(text)).toEqual(
        values.map((value) =>
          Buffer.byteLength(indented(JSON.stringify(value, null, indent), indent), 'utf8'),
        ),
      );
    },
  );

  it('follows strings holding quotes, backslashes, brackets and commas, and astral characters', () => {
    const values = ['a\\"],[{', { 'k"}': ['\\', '\u{1F4A5}', ',]'] }, '\ud800', 7];
    const text = ` \n[ ${values.map((value) => JSON.stringify(value)).join(' ,\t')} ]\n`;
    expect(arrayElementBytes(text)).toEqual(values.map((value) => Buffer.byteLength(JSON.stringify(value))));
    expect(arrayElementBytes('[]')).toEqual([]);
    expect(arrayElementBytes(' [ ] ')).toEqual([]);
  });

  it('answers undefined for text that is not an array', () => {
    expect(arrayElementBytes('{"a":[1,2]}')).toBeUndefined();
    expect(arrayElementBytes('"[1]"')).toBeUndefined();
    expect(arrayElementBytes('[1, 2')).toBeUndefined();
  });
});
