import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A fake root for end-to-end runs of the agent: a Linux client partition of an IBM Power system
 * with md0 (RAID1 over sda1 and sdb1) on two vSCSI disks, sda served by VIOS `vios1` and sdb by
 * `vios2`, laid out as the kernel shows it under `proc/` and `sys/` (the ibmvscsi SCSI hosts with
 * their `partition_name` and `vhost_loc`, the disks' `device` links into `sys/devices/vio`, the
 * md array's member states). A test moves md0 through the states of a VIOS reboot; each state
 * writes `/proc/mdstat` and the sysfs member states together, as the kernel keeps them.
 */

export const FAKE_ROOT_BOOT_ID = 'b7c1e5d2-4f0a-4c55-9d39-0e7d2a51c3f1';
export const FAKE_ROOT_MD0_UUID = '7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a';
export const VIOS1_DOMAIN = 'vscsi:Server-9080-M9S-SN78AB12C/vios1';
export const VIOS2_DOMAIN = 'vscsi:Server-9080-M9S-SN78AB12C/vios2';

/** md0 as the kernel shows it at each stage of a VIOS2 reboot and the re-add after it. */
export type Md0Stage = 'healthy' | 'degraded' | 'recovering' | 'recovered';

const PERSONALITIES = 'Personalities : [raid1] [raid0] [raid6] [raid5] [raid4] [raid10] \n';
const BITMAP = '      bitmap: 0/8 pages [0KB], 64KB chunk\n';

/** `/proc/mdstat` (drivers/md/md.c `md_seq_show`), with its trailing spaces. */
const MDSTAT: Record<Md0Stage, string> = {
  healthy: `${PERSONALITIES}md0 : active raid1 sdb1[1] sda1[0]\n      1048512 blocks super 1.2 [2/2] [UU]\n${BITMAP}      \nunused devices: <none>\n`,
  degraded: `${PERSONALITIES}md0 : active raid1 sdb1[1](F) sda1[0]\n      1048512 blocks super 1.2 [2/1] [U_]\n${BITMAP}      \nunused devices: <none>\n`,
  recovering: `${PERSONALITIES}md0 : active raid1 sdb1[2] sda1[0]\n      1048512 blocks super 1.2 [2/1] [U_]\n      [=====>...............]  recovery = 27.1% (284672/1048512) finish=0.3min speed=40000K/sec\n${BITMAP}      \nunused devices: <none>\n`,
  recovered: `${PERSONALITIES}md0 : active raid1 sdb1[2] sda1[0]\n      1048512 blocks super 1.2 [2/2] [UU]\n${BITMAP}      \nunused devices: <none>\n`,
};

/** `sys/block/md0/md/sync_completed` (`sync_completed_show`): the recovery's last checkpoint, in sectors. */
const SYNC_COMPLETED: Record<Md0Stage, string> = {
  healthy: 'none',
  degraded: 'none',
  recovering: '524288 / 2097024',
  recovered: 'none',
};

/** `sys/block/md0/md/dev-<member>/{state,slot}` at each stage. */
const MEMBER_SYSFS: Record<Md0Stage, Record<'sda1' | 'sdb1', { state: string; slot: string }>> = {
  healthy: { sda1: { state: 'in_sync', slot: '0' }, sdb1: { state: 'in_sync', slot: '1' } },
  degraded: { sda1: { state: 'in_sync', slot: '0' }, sdb1: { state: 'faulty,write_error', slot: 'none' } },
  recovering: { sda1: { state: 'in_sync', slot: '0' }, sdb1: { state: '', slot: '1' } },
  recovered: { sda1: { state: 'in_sync', slot: '0' }, sdb1: { state: 'in_sync', slot: '1' } },
};

const VSCSI_HOSTS = [
  {
    host: 'host0',
    vio: '30000002',
    hctl: '0:0:1:0',
    disk: 'sda',
    partition: 'vios1',
    number: '1',
    slot: 'C2',
  },
  {
    host: 'host1',
    vio: '30000003',
    hctl: '1:0:2:0',
    disk: 'sdb',
    partition: 'vios2',
    number: '2',
    slot: 'C3',
  },
] as const;

export type FakeRoot = {
  readonly root: string;
  /** Puts md0 in a stage: mdstat and sysfs together. */
  setMd0(stage: Md0Stage): void;
  remove(): void;
};

export const createFakeRoot = (stage: Md0Stage = 'healthy'): FakeRoot => {
  const root = mkdtempSync(join(tmpdir(), 'faultline-fake-root-'));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  const link = (path: string, target: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    symlinkSync(target, join(root, path));
  };

  write('proc/sys/kernel/random/boot_id', `${FAKE_ROOT_BOOT_ID}\n`);
  write('proc/stat', 'cpu  4705 356 584 3699 23 23 0 0 0 0\nbtime 1795215600\nprocesses 3091\n');
  write('proc/device-tree/ibm,partition-name', 'lnxclient07\0');
  write('proc/device-tree/model', 'IBM,9080-M9S\0');
  write('proc/device-tree/system-id', 'IBM,0278AB12C\0');
  write('etc/machine-id', '0f1e2d3c4b5a69788796a5b4c3d2e1f0\n');
  for (const scsi of VSCSI_HOSTS) {
    write(`sys/class/scsi_host/${scsi.host}/proc_name`, 'ibmvscsi\n');
    write(`sys/class/scsi_host/${scsi.host}/partition_name`, `${scsi.partition}\n`);
    write(`sys/class/scsi_host/${scsi.host}/partition_number`, `${scsi.number}\n`);
    write(`sys/class/scsi_host/${scsi.host}/vhost_loc`, `U9080.M9S.78AB12C-V7-${scsi.slot}\n`);
    const [h, c, t] = scsi.hctl.split(':');
    const device = `sys/devices/vio/${scsi.vio}/${scsi.host}/target${h}:${c}:${t}/${scsi.hctl}`;
    write(`${device}/state`, 'running\n');
    write(`${device}/vendor`, 'AIX     \n');
    write(`${device}/model`, 'VDASD           \n');
    write(`${device}/ioerr_cnt`, '0x0\n');
    link(`sys/devices/vio/${scsi.vio}/driver`, '../../../bus/vio/drivers/ibmvscsi');
    link(
      `sys/block/${scsi.disk}/device`,
      `../../devices/vio/${scsi.vio}/${scsi.host}/target${h}:${c}:${t}/${scsi.hctl}`,
    );
    write(`sys/block/${scsi.disk}/size`, '104857600\n');
    write(`sys/block/${scsi.disk}/${scsi.disk}1/partition`, '1\n');
  }
  write('sys/block/md0/md/level', 'raid1\n');
  write('sys/block/md0/md/metadata_version', '1.2\n');
  link(`dev/disk/by-id/md-uuid-${FAKE_ROOT_MD0_UUID}`, '../../md0');

  const setMd0 = (next: Md0Stage) => {
    for (const [member, files] of Object.entries(MEMBER_SYSFS[next])) {
      write(`sys/block/md0/md/dev-${member}/state`, `${files.state}\n`);
      write(`sys/block/md0/md/dev-${member}/slot`, `${files.slot}\n`);
    }
    write('sys/block/md0/md/sync_completed', `${SYNC_COMPLETED[next]}\n`);
    // mdstat last, through a rename, so a scan never reads half of it.
    write('proc/.mdstat.tmp', MDSTAT[next]);
    renameSync(join(root, 'proc', '.mdstat.tmp'), join(root, 'proc', 'mdstat'));
  };
  setMd0(stage);
  return { root, setMd0, remove: () => rmSync(root, { recursive: true, force: true }) };
};
