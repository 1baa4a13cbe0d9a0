import { type ProbeWarning, toolLines, WarningLog } from './tool-text.ts';

/**
 * What a Virtual I/O Server's `lsmap` (ioscli, `lsmap -all` and `lsmap -all -npiv`) says of its
 * virtual server adapters, for the serving check of a VIOS's agent (docs/architecture.md §5.2: a
 * hosting partition announces its IPL only once it serves again, never merely because it booted).
 *
 * `lsmap -all` prints, per virtual SCSI server adapter, a header, the adapter (`vhost0`, its
 * location code and the client partition id in hex, `0x00000000` when no client logged in), a
 * blank line and one block per virtual target device, `Key<spaces>value` lines:
 *
 * ```
 * SVSA            Physloc                                      Client Partition ID
 * --------------- -------------------------------------------- ------------------
 * vhost0          U9080.M9S.78AB12C-V2-C11                     0x00000003
 *
 * VTD                   vtscsi0
 * Status                Available
 * LUN                   0x8100000000000000
 * Backing device        hdisk4
 * Physloc               U78D3.ND1.CSS1234-P1-C2-T1-W500507680B21AC1C-L0
 * Mirrored              false
 * ```
 *
 * An adapter with no mapping prints `VTD                   NO VIRTUAL TARGET DEVICE FOUND` (older
 * levels: the words alone). A target device the VIOS has not configured yet (early in its boot,
 * or after `rmdev -l`) is `Defined`; its client sees no disk behind it.
 *
 * `lsmap -all -npiv` prints, per virtual Fibre Channel server adapter, `Name Physloc ClntID
 * ClntName ClntOS`, then `Status:LOGGED_IN` (or `NOT_LOGGED_IN`), `FC name:fcs0  FC loc
 * code:...` (the physical port it is mapped to, empty when unmapped), `Ports logged in:2`,
 * `Flags:...` and `VFC client name:...  VFC client DRC:...`. `Status` says whether the client's
 * virtual FC adapter has logged into the fabric through this adapter and its physical port;
 * `Ports logged in` counts the fabric ports it logged into. A mapped adapter whose client is down,
 * or whose physical port is not on the fabric (cable, switch port), shows
 * `Status:NOT_LOGGED_IN`, `Ports logged in:0`, `Flags:4<NOT_LOGGED>`.
 */

/** A virtual target device: what one client disk is, on the VIOS. */
export type VirtualTarget = {
  vtd: string;
  /** `Available` when configured and serving, `Defined` when not; `unknown` when the block had no `Status`. */
  status: string;
  backingDevice: string | null;
};

export type VirtualScsiAdapter = {
  name: string;
  physloc: string;
  /** The client partition id, null when no client partition is logged in (`0x00000000`). */
  clientPartitionId: number | null;
  targets: VirtualTarget[];
};

export type LsmapReading = { adapters: VirtualScsiAdapter[]; warnings: ProbeWarning[] };

const VHOST_LINE = /^(vhost\d{1,5})\s+(\S+)\s+0x([0-9a-fA-F]{1,8})\s*$/;
const KEY_VALUE = /^(VTD|Status|LUN|Backing device|Physloc|Mirrored)(?:\s+(.*?))?\s*$/;

/** Reads `lsmap -all`. Never throws. */
export const parseLsmap = (text: string): LsmapReading => {
  const log = new WarningLog();
  const adapters: VirtualScsiAdapter[] = [];
  let adapter: VirtualScsiAdapter | null = null;
  let target: VirtualTarget | null = null;
  for (const line of toolLines(text)) {
    const trimmed = line.text.trim();
    if (
      trimmed === '' ||
      /^SVSA\s+Physloc\s+Client\s+Partition\s+ID$/.test(trimmed) ||
      /^[-\s]+$/.test(trimmed)
    )
      continue;
    if (/NO VIRTUAL TARGET DEVICE FOUND$/.test(trimmed)) {
      target = null;
      continue;
    }
    const vhost = VHOST_LINE.exec(trimmed);
    if (vhost !== null) {
      const id = Number.parseInt(vhost[3] ?? '0', 16);
      adapter = {
        name: vhost[1] ?? '',
        physloc: vhost[2] ?? '',
        clientPartitionId: id === 0 ? null : id,
        targets: [],
      };
      adapters.push(adapter);
      target = null;
      continue;
    }
    const field = KEY_VALUE.exec(trimmed);
    if (field === null || adapter === null) {
      log.add(line.number, line.text, adapter === null ? 'not an lsmap line' : 'not an lsmap field');
      continue;
    }
    const [, key, value = ''] = field;
    if (key === 'VTD') {
      if (value === '') {
        log.add(line.number, line.text, 'a VTD without a name');
        target = null;
        continue;
      }
      target = { vtd: value, status: 'unknown', backingDevice: null };
      adapter.targets.push(target);
      continue;
    }
    if (target === null) {
      log.add(line.number, line.text, `${key} outside a VTD block`);
      continue;
    }
    if (key === 'Status' && value !== '') target.status = value;
    else if (key === 'Backing device' && value !== '') target.backingDevice = value;
  }
  return { adapters, warnings: log.collect() };
};

export type VirtualFcAdapter = {
  name: string;
  physloc: string;
  clientPartitionId: number | null;
  clientName: string | null;
  /** `LOGGED_IN` or `NOT_LOGGED_IN`. */
  status: string;
  /** The physical FC port it is mapped to (`fcs0`), null when unmapped. */
  fcName: string | null;
  /** `Ports logged in:`, null when absent. */
  portsLoggedIn: number | null;
};

export type LsmapNpivReading = { adapters: VirtualFcAdapter[]; warnings: ProbeWarning[] };

const VFCHOST_LINE = /^(vfchost\d{1,5})\s+(\S+)(?:\s+(\d{1,5})(?:\s+(\S+))?(?:\s+(\S+))?)?\s*$/;

/** Reads `lsmap -all -npiv`. Never throws. */
export const parseLsmapNpiv = (text: string): LsmapNpivReading => {
  const log = new WarningLog();
  const adapters: VirtualFcAdapter[] = [];
  let adapter: VirtualFcAdapter | null = null;
  for (const line of toolLines(text)) {
    const trimmed = line.text.trim();
    if (trimmed === '' || /^Name\s+Physloc\s+ClntID/.test(trimmed) || /^[-\s]+$/.test(trimmed)) continue;
    const vfchost = VFCHOST_LINE.exec(trimmed);
    if (vfchost !== null) {
      adapter = {
        name: vfchost[1] ?? '',
        physloc: vfchost[2] ?? '',
        clientPartitionId: vfchost[3] === undefined ? null : Number(vfchost[3]),
        clientName: vfchost[4] ?? null,
        status: 'unknown',
        fcName: null,
        portsLoggedIn: null,
      };
      adapters.push(adapter);
      continue;
    }
    if (adapter === null) {
      log.add(line.number, line.text, 'not an lsmap -npiv line');
      continue;
    }
    const status = /^Status:(\S*)$/.exec(trimmed);
    if (status !== null) {
      adapter.status = status[1] === '' ? 'unknown' : (status[1] ?? 'unknown');
      continue;
    }
    const port = /^FC name:(\S*)\s*FC loc code:/.exec(trimmed);
    if (port !== null) {
      adapter.fcName = port[1] === '' || port[1] === undefined ? null : port[1];
      continue;
    }
    const ports = /^Ports logged in:\s*(\d{1,6})?\s*$/.exec(trimmed);
    if (ports !== null) {
      adapter.portsLoggedIn = ports[1] === undefined ? null : Number(ports[1]);
      continue;
    }
    if (/^(?:Flags|VFC client name):/.test(trimmed)) continue;
    log.add(line.number, line.text, 'not an lsmap -npiv field');
  }
  return { adapters, warnings: log.collect() };
};

/**
 * What serves through a VIOS, as its agent remembers it (`serve.json`): `vtd:<name>` for a virtual
 * target device `Available`, `vfchost:<name>` for a virtual FC adapter its client logged in through.
 */
export const SERVING_UNIT_PREFIX = { target: 'vtd:', npiv: 'vfchost:' } as const;

/** What the verdict weighs besides `lsmap`. */
export type ViosServingContext = {
  /**
   * What served when this VIOS last served (its agent's record, kept across its boots); null when
   * nothing is recorded (the agent's first look at this VIOS, or its state lost).
   */
  servedBefore: readonly string[] | null;
  /**
   * The boot is past the time a VIOS takes to configure its virtual devices: a target or adapter
   * that is not back by now is left over, and waiting for it would only keep its clients down.
   */
  settled: boolean;
};

/** Whether a VIOS serves; `unknown` when a listing it needs could not be read. */
export type ViosVerdict = 'serving' | 'not-serving' | 'unknown';

export type ViosServing = {
  verdict: ViosVerdict;
  /** Virtual target devices listed, and virtual FC adapters mapped to a physical port. */
  targets: number;
  mappedNpivAdapters: number;
  /** What serves now: `vtd:` units `Available`, `vfchost:` units logged in. */
  serving: string[];
  /**
   * What to remember as serving, once it serves: `serving`, and the record's units of a listing
   * that could not be read (nothing disproved them).
   */
  record: string[];
  /** Why it does not serve (yet): one reason per target or adapter it waits for. */
  reasons: string[];
  /** What it serves without, each with why: left-over targets, adapters whose client is not logged in. */
  ignored: string[];
};

const describeTarget = (adapter: VirtualScsiAdapter, target: VirtualTarget): string =>
  `${adapter.name} ${target.vtd} (${target.backingDevice ?? 'no backing device'}) is ${target.status}`;

/**
 * Whether a VIOS serves its clients again (docs/architecture.md §5.2): something serves through it
 * (a virtual target device `Available`, or a virtual FC adapter its client logged in through), and
 * nothing that served when it last served is still missing, unless the boot is settled.
 *
 * - **A target that is not `Available`** (`Defined`: not configured) holds the VIOS back when it
 *   served when this VIOS last served (`servedBefore`), or, with nothing recorded, whenever it
 *   has a backing device: early in a boot, a `Defined` target is one the VIOS is still
 *   configuring (cfgmgr; a shared storage pool's targets once the cluster is up), and serving
 *   before it is back would announce an IPL whose disks are not there yet.
 * - **Left over, ignored** (listed in `ignored`, never waited for): a target not `Available` that
 *   did not serve when this VIOS last served (a VTD whose backing disk or logical volume was
 *   removed and that was never `rmvdev`'d stays `Defined` after every boot); one with no backing
 *   device (nothing to serve); and, once the boot is settled, any target still not `Available`.
 * - **Virtual FC**: a mapped adapter serves only once its client logged in through it. The mapping
 *   alone is not enough: it is configuration (the ODM), listed from the first moment of the boot
 *   whether or not the physical port has logged into the fabric, and while its cable or switch
 *   port is down; only a client's login shows the path through this VIOS works. A mapped adapter
 *   whose client is not logged in holds the VIOS back when its client logged in through it when
 *   this VIOS last served (until the boot is settled); otherwise it says nothing (its client may
 *   be down, or not activated yet).
 * - **A listing that could not be read** (`null`) says nothing: the verdict is `unknown` when it
 *   could hold the VIOS back (the record names units it lists, or nothing is recorded, and the
 *   boot is not settled) or when nothing else serves; a listing that was read and holds the VIOS
 *   back still says `not-serving`.
 */
export const viosServing = (
  vscsi: LsmapReading | null,
  npiv: LsmapNpivReading | null,
  context: ViosServingContext,
): ViosServing => {
  const before = context.servedBefore === null ? null : new Set(context.servedBefore);
  const reasons: string[] = [];
  const ignored: string[] = [];
  const serving: string[] = [];
  let targets = 0;
  for (const adapter of vscsi?.adapters ?? []) {
    for (const target of adapter.targets) {
      targets += 1;
      const unit = `${SERVING_UNIT_PREFIX.target}${target.vtd}`;
      if (target.status === 'Available') {
        serving.push(unit);
        continue;
      }
      const what = describeTarget(adapter, target);
      if (target.backingDevice === null) ignored.push(`${what}: no backing device, nothing to serve`);
      else if (before !== null && !before.has(unit))
        ignored.push(`${what}: it did not serve when this VIOS last served (left over)`);
      else if (context.settled)
        ignored.push(`${what}: still, past the time a VIOS takes to configure after boot (left over)`);
      else
        reasons.push(before === null ? what : `${what}: it served when this VIOS last served, not back yet`);
    }
  }
  let mappedNpivAdapters = 0;
  for (const adapter of npiv?.adapters ?? []) {
    if (adapter.fcName === null) continue;
    mappedNpivAdapters += 1;
    const unit = `${SERVING_UNIT_PREFIX.npiv}${adapter.name}`;
    if (adapter.status === 'LOGGED_IN') {
      serving.push(unit);
      continue;
    }
    const what = `${adapter.name} (${adapter.fcName}) has no client logged in (Status:${adapter.status}, Ports logged in:${adapter.portsLoggedIn ?? '?'})`;
    if (before?.has(unit) === true && !context.settled)
      reasons.push(`${what}: its client logged in through it when this VIOS last served, not back yet`);
    else ignored.push(`${what}: its client may be down`);
  }

  const unread = [
    ...(vscsi === null ? [{ listing: 'lsmap -all', prefix: SERVING_UNIT_PREFIX.target }] : []),
    ...(npiv === null ? [{ listing: 'lsmap -all -npiv', prefix: SERVING_UNIT_PREFIX.npiv }] : []),
  ];
  const result = (verdict: ViosVerdict): ViosServing => {
    // A listing that could not be read disproves nothing the record holds of it.
    const kept = [...(before ?? [])].filter((unit) => unread.some(({ prefix }) => unit.startsWith(prefix)));
    const record = [...new Set([...serving, ...kept])].sort();
    return { verdict, targets, mappedNpivAdapters, serving, record, reasons, ignored };
  };
  if (reasons.length > 0) return result('not-serving');
  for (const { listing, prefix } of unread) {
    const couldHoldBack =
      !context.settled && (before === null || [...before].some((unit) => unit.startsWith(prefix)));
    if (couldHoldBack || serving.length === 0) {
      reasons.push(`${listing} could not be read`);
      return result('unknown');
    }
  }
  if (serving.length === 0) {
    reasons.push('nothing serves: no virtual target device Available and no virtual FC client logged in');
    return result('not-serving');
  }
  return result('serving');
};
