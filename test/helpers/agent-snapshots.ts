import type {
  ArrayReport,
  ArrayState,
  HostSnapshot,
  Member,
  PathState,
  SnapshotDisk,
  SnapshotMap,
} from '../../events/index.ts';

/**
 * Builders of host snapshots for detection tests: a client partition whose md RAID1 mirrors sit
 * on two disks served by two VIOS, and a dm-multipath map with one path per VIOS.
 */

export const HOST_ID = 'lnxclient07.example.net';
export const BOOT_ID = 'b7c1e5d2-4f0a-4c55-9d39-0e7d2a51c3f1';
export const VIOS1 = 'vscsi:Server-9080-M9S-SN78AB12C/vios1';
export const VIOS2 = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';
export const MD0_UUID = '7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a';
export const MPATHA_WWID = '3600a0b80001234560000abcd12345678';

const DOMAIN_OF_DISK: Record<string, string> = { sda: VIOS1, sdb: VIOS2, sdc: VIOS1, sdd: VIOS2 };

/** A member `sdb1` of disk `sdb`, on the VIOS serving that disk. */
export const member = (device: string, state: Member['state'] = 'in-sync'): Member => {
  const disk = device.replace(/\d+$/, '');
  return { device, disk, state, failureDomain: DOMAIN_OF_DISK[disk] ?? `local:${HOST_ID}` };
};

/** A RAID1 md array; by default md0 on sda1 and sdb1, clean. */
export const mirror = (
  options: { array?: string; state?: ArrayState; members?: Member[]; bitmap?: boolean } = {},
): ArrayReport => ({
  array: options.array ?? 'md0',
  kind: 'md',
  level: 'raid1',
  state: options.state ?? 'clean',
  members: options.members ?? [member('sda1'), member('sdb1')],
  bitmap: options.bitmap ?? true,
  uuid: MD0_UUID,
});

/** The multipath map `mpatha` with sdc through VIOS1 and sdd through VIOS2. */
export const multipathMap = (states: { sdc?: PathState; sdd?: PathState } = {}): SnapshotMap => ({
  map: 'mpatha',
  wwid: MPATHA_WWID,
  paths: [
    { path: 'sdc', hctl: '0:0:2:0', failureDomain: VIOS1, state: states.sdc ?? 'active' },
    { path: 'sdd', hctl: '1:0:2:0', failureDomain: VIOS2, state: states.sdd ?? 'active' },
  ],
});

/** A vSCSI disk as sysfs shows it. */
export const vscsiDisk = (
  disk: string,
  deviceState: SnapshotDisk['deviceState'] = 'running',
): SnapshotDisk => ({
  disk,
  hctl: disk === 'sda' ? '0:0:1:0' : '1:0:1:0',
  scsiHost: disk === 'sda' ? 'host0' : 'host1',
  driver: 'ibmvscsi',
  sizeBytes: 53_687_091_200,
  failureDomain: DOMAIN_OF_DISK[disk] ?? `local:${HOST_ID}`,
  ...(deviceState === undefined ? {} : { deviceState }),
});

/** A snapshot of the client: md0 clean, mpatha healthy, sda and sdb running, unless overridden. */
export const hostSnapshot = (overrides: Partial<HostSnapshot> = {}): HostSnapshot => ({
  hostId: HOST_ID,
  bootId: BOOT_ID,
  platform: 'linux',
  role: 'client',
  takenAt: '2026-11-22T03:12:00.000Z',
  arrays: [mirror()],
  maps: [multipathMap()],
  disks: [vscsiDisk('sda'), vscsiDisk('sdb')],
  domains: [],
  ...overrides,
});
