import { describe, expect, it } from 'vitest';
import { parseLsmap, parseLsmapNpiv, viosServing } from '../../probes/vios-lsmap.ts';
import { fixtureText } from '../helpers/agent-probes.ts';

describe('parseLsmap', () => {
  it('reads every vhost of lsmap -all with its client and virtual target devices', () => {
    const reading = parseLsmap(fixtureText('vios/lsmap-all.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.adapters).toEqual([
      {
        name: 'vhost0',
        physloc: 'U9080.M9S.78AB12C-V2-C11',
        clientPartitionId: 3,
        targets: [
          { vtd: 'vtscsi0', status: 'Available', backingDevice: 'hdisk4' },
          { vtd: 'vtscsi1', status: 'Available', backingDevice: 'lnxclient07_data' },
        ],
      },
      { name: 'vhost1', physloc: 'U9080.M9S.78AB12C-V2-C12', clientPartitionId: null, targets: [] },
      {
        name: 'vhost2',
        physloc: 'U9080.M9S.78AB12C-V2-C13',
        clientPartitionId: 11,
        targets: [
          { vtd: 'vtopt0', status: 'Available', backingDevice: null },
          { vtd: 'vtscsi2', status: 'Available', backingDevice: 'hdisk5' },
        ],
      },
    ]);
  });

  it('reads the older layout without the VTD word before NO VIRTUAL TARGET DEVICE FOUND, and no Status', () => {
    const reading = parseLsmap(
      [
        'SVSA Physloc Client Partition ID',
        '--------------- -------------------------------------------- ------------------',
        'vhost0 U9131.52A.10E47DG-V3-C31 0x00000000',
        '',
        'NO VIRTUAL TARGET DEVICE FOUND',
        'vhost4 U9117.MMB.999BCP-V2-C8 0x00000004',
        'VTD d7f1_lpar1',
        'LUN 0x8100000000000000',
        'Backing device hdisk25',
      ].join('\n'),
    );
    expect(reading.warnings).toEqual([]);
    expect(reading.adapters.map((adapter) => [adapter.name, adapter.targets])).toEqual([
      ['vhost0', []],
      ['vhost4', [{ vtd: 'd7f1_lpar1', status: 'unknown', backingDevice: 'hdisk25' }]],
    ]);
  });

  it('warns about lines that are not lsmap output', () => {
    const reading = parseLsmap('Access to run command is not valid.\n');
    expect(reading.adapters).toEqual([]);
    expect(reading.warnings).toEqual([
      { line: 1, text: 'Access to run command is not valid.', reason: 'not an lsmap line' },
    ]);
  });
});

describe('parseLsmapNpiv', () => {
  it('reads each vfchost of lsmap -all -npiv, logged in and mapped or neither', () => {
    const reading = parseLsmapNpiv(fixtureText('vios/lsmap-all-npiv.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.adapters).toEqual([
      {
        name: 'vfchost0',
        physloc: 'U9080.M9S.78AB12C-V2-C21',
        clientPartitionId: 3,
        clientName: 'lnxclient07',
        status: 'LOGGED_IN',
        fcName: 'fcs0',
        portsLoggedIn: 2,
      },
      {
        name: 'vfchost1',
        physloc: 'U9080.M9S.78AB12C-V2-C22',
        clientPartitionId: null,
        clientName: null,
        status: 'NOT_LOGGED_IN',
        fcName: null,
        portsLoggedIn: 0,
      },
    ]);
  });

  it('reads a mapped adapter whose client is not logged in through it', () => {
    const reading = parseLsmapNpiv(fixtureText('vios/lsmap-all-npiv-not-logged-in.txt'));
    expect(reading.warnings).toEqual([]);
    expect(reading.adapters[0]).toEqual({
      name: 'vfchost0',
      physloc: 'U9080.M9S.78AB12C-V2-C21',
      clientPartitionId: null,
      clientName: null,
      status: 'NOT_LOGGED_IN',
      fcName: 'fcs0',
      portsLoggedIn: 0,
    });
  });
});

const lsmap = (name: string) => parseLsmap(fixtureText(`vios/${name}.txt`));
const npiv = (name: string) => parseLsmapNpiv(fixtureText(`vios/${name}.txt`));
const NOTHING_RECORDED = { servedBefore: null, settled: false } as const;
const SERVED_BEFORE = ['vfchost:vfchost0', 'vtd:vtopt0', 'vtd:vtscsi0', 'vtd:vtscsi1', 'vtd:vtscsi2'];

describe('viosServing', () => {
  it('serves when every virtual target device is Available and a client logged in, whatever the adapters without a mapping', () => {
    const verdict = viosServing(lsmap('lsmap-all'), npiv('lsmap-all-npiv'), NOTHING_RECORDED);
    expect(verdict).toEqual({
      verdict: 'serving',
      targets: 4,
      mappedNpivAdapters: 1,
      serving: ['vtd:vtscsi0', 'vtd:vtscsi1', 'vtd:vtopt0', 'vtd:vtscsi2', 'vfchost:vfchost0'],
      record: SERVED_BEFORE,
      reasons: [],
      ignored: [],
    });
  });

  it('does not serve early in a boot while a target is Defined and nothing says what served before', () => {
    const verdict = viosServing(lsmap('lsmap-all-defined'), null, NOTHING_RECORDED);
    expect(verdict.verdict).toBe('not-serving');
    expect(verdict.reasons).toEqual(['vhost0 vtscsi0 (hdisk4) is Defined']);
  });

  it('does not serve with nothing mapped at all', () => {
    expect(
      viosServing({ adapters: [], warnings: [] }, { adapters: [], warnings: [] }, NOTHING_RECORDED),
    ).toMatchObject({
      verdict: 'not-serving',
      reasons: ['nothing serves: no virtual target device Available and no virtual FC client logged in'],
    });
  });

  it('serves beside a stale VTD left Defined that did not serve when it last served, and says so', () => {
    const verdict = viosServing(lsmap('lsmap-all-stale-vtd'), npiv('lsmap-all-npiv'), {
      servedBefore: ['vfchost:vfchost0', 'vtd:vtscsi0', 'vtd:vtscsi1'],
      settled: false,
    });
    expect(verdict.verdict).toBe('serving');
    expect(verdict.ignored).toEqual([
      'vhost2 vtscsi9 (hdisk9) is Defined: it did not serve when this VIOS last served (left over)',
    ]);
    expect(verdict.record).toEqual(['vfchost:vfchost0', 'vtd:vtscsi0', 'vtd:vtscsi1']);
  });

  it('does not serve while a target that served when it last served is still Defined, though others are Available', () => {
    const verdict = viosServing(lsmap('lsmap-all-defined'), npiv('lsmap-all-npiv'), {
      servedBefore: ['vfchost:vfchost0', 'vtd:vtscsi0', 'vtd:vtscsi1'],
      settled: false,
    });
    expect(verdict.verdict).toBe('not-serving');
    expect(verdict.reasons).toEqual([
      'vhost0 vtscsi0 (hdisk4) is Defined: it served when this VIOS last served, not back yet',
    ]);
  });

  it('serves without a target still Defined once the boot is past the configuring time, and says so', () => {
    const recorded = viosServing(lsmap('lsmap-all-defined'), npiv('lsmap-all-npiv'), {
      servedBefore: ['vfchost:vfchost0', 'vtd:vtscsi0', 'vtd:vtscsi1'],
      settled: true,
    });
    expect(recorded.verdict).toBe('serving');
    expect(recorded.ignored).toEqual([
      'vhost0 vtscsi0 (hdisk4) is Defined: still, past the time a VIOS takes to configure after boot (left over)',
    ]);
    // Recorded without it: the next boot does not wait for it.
    expect(recorded.record).toEqual(['vfchost:vfchost0', 'vtd:vtscsi1']);
    // The agent's first look at a VIOS long up: a Defined target is left over as well.
    const firstLook = viosServing(lsmap('lsmap-all-stale-vtd'), null, { servedBefore: null, settled: true });
    expect(firstLook).toMatchObject({ verdict: 'serving', record: ['vtd:vtscsi0', 'vtd:vtscsi1'] });
  });

  it('never waits for a Defined target with no backing device: it has nothing to serve', () => {
    const verdict = viosServing(
      parseLsmap(
        [
          'vhost0          U9080.M9S.78AB12C-V2-C11                     0x00000003',
          'VTD                   vtscsi0',
          'Status                Available',
          'Backing device        hdisk4',
          'VTD                   vtopt0',
          'Status                Defined',
          'Backing device        ',
        ].join('\n'),
      ),
      null,
      { servedBefore: ['vtd:vtopt0', 'vtd:vtscsi0'], settled: false },
    );
    expect(verdict).toMatchObject({
      verdict: 'serving',
      ignored: ['vhost0 vtopt0 (no backing device) is Defined: no backing device, nothing to serve'],
    });
  });

  it('does not take a mapping alone for NPIV: a VIOS whose only client is not logged in through its port serves nothing', () => {
    const verdict = viosServing(
      { adapters: [], warnings: [] },
      npiv('lsmap-all-npiv-not-logged-in'),
      NOTHING_RECORDED,
    );
    expect(verdict).toMatchObject({
      verdict: 'not-serving',
      mappedNpivAdapters: 1,
      ignored: [
        'vfchost0 (fcs0) has no client logged in (Status:NOT_LOGGED_IN, Ports logged in:0): its client may be down',
      ],
    });
    expect(
      viosServing({ adapters: [], warnings: [] }, npiv('lsmap-all-npiv'), NOTHING_RECORDED).verdict,
    ).toBe('serving');
  });

  it('waits for an NPIV client that logged in through it when it last served, until the boot is settled', () => {
    const servedBefore = ['vfchost:vfchost0', 'vtd:vtscsi0', 'vtd:vtscsi1'];
    const early = viosServing(lsmap('lsmap-all-stale-vtd'), npiv('lsmap-all-npiv-not-logged-in'), {
      servedBefore,
      settled: false,
    });
    expect(early).toMatchObject({
      verdict: 'not-serving',
      reasons: [
        'vfchost0 (fcs0) has no client logged in (Status:NOT_LOGGED_IN, Ports logged in:0): its client logged in through it when this VIOS last served, not back yet',
      ],
    });
    const settled = viosServing(lsmap('lsmap-all-stale-vtd'), npiv('lsmap-all-npiv-not-logged-in'), {
      servedBefore,
      settled: true,
    });
    expect(settled).toMatchObject({ verdict: 'serving', record: ['vtd:vtscsi0', 'vtd:vtscsi1'] });
  });

  it('says nothing when a listing it needs could not be read, and serves without one that cannot hold it back', () => {
    const vscsiOnly = ['vtd:vtscsi0', 'vtd:vtscsi1'];
    expect(viosServing(null, null, NOTHING_RECORDED)).toMatchObject({ verdict: 'unknown' });
    expect(viosServing(null, null, { servedBefore: vscsiOnly, settled: true })).toMatchObject({
      verdict: 'unknown',
      reasons: ['lsmap -all could not be read'],
    });
    // lsmap -all -npiv failed: it cannot hold back a VIOS whose clients never logged in through it...
    const npivUnread = viosServing(lsmap('lsmap-all-stale-vtd'), null, {
      servedBefore: vscsiOnly,
      settled: false,
    });
    expect(npivUnread).toMatchObject({ verdict: 'serving', record: vscsiOnly });
    // ...but it can one whose clients did, and then the record keeps them.
    const withNpiv = ['vfchost:vfchost0', ...vscsiOnly];
    expect(
      viosServing(lsmap('lsmap-all-stale-vtd'), null, { servedBefore: withNpiv, settled: false }),
    ).toMatchObject({ verdict: 'unknown', reasons: ['lsmap -all -npiv could not be read'] });
    expect(
      viosServing(lsmap('lsmap-all-stale-vtd'), null, { servedBefore: withNpiv, settled: true }),
    ).toMatchObject({ verdict: 'serving', record: withNpiv });
    // What was read and holds it back still says so.
    expect(
      viosServing(lsmap('lsmap-all-defined'), null, { servedBefore: withNpiv, settled: false }).verdict,
    ).toBe('not-serving');
  });
});
