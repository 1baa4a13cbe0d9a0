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
 * `Flags:...` and `VFC client name:...  VFC client DRC:...`.
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
    if (/^(?:Ports logged in|Flags|VFC client name):/.test(trimmed)) continue;
    log.add(line.number, line.text, 'not an lsmap -npiv field');
  }
  return { adapters, warnings: log.collect() };
};

/** Whether a VIOS serves, and if not, why (one reason per adapter or target at fault). */
export type ViosServing = {
  serving: boolean;
  targets: number;
  mappedNpivAdapters: number;
  reasons: string[];
};

/**
 * A VIOS serves when it has something mapped (a virtual target device, or a virtual FC adapter
 * mapped to a physical port) and every virtual target device is `Available`. An adapter with no
 * mapping, and a client that is not logged in (it may simply be down), say nothing about the VIOS.
 */
export const viosServing = (vscsi: LsmapReading, npiv: LsmapNpivReading | null): ViosServing => {
  const reasons: string[] = [];
  let targets = 0;
  for (const adapter of vscsi.adapters) {
    for (const target of adapter.targets) {
      targets += 1;
      if (target.status !== 'Available') {
        reasons.push(
          `${adapter.name} ${target.vtd} (${target.backingDevice ?? 'no backing device'}) is ${target.status}`,
        );
      }
    }
  }
  const mappedNpivAdapters = (npiv?.adapters ?? []).filter((adapter) => adapter.fcName !== null).length;
  if (targets === 0 && mappedNpivAdapters === 0)
    reasons.push('no virtual target device and no mapped virtual FC adapter');
  return { serving: reasons.length === 0, targets, mappedNpivAdapters, reasons };
};
