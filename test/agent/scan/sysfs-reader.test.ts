import { afterAll, describe, expect, it } from 'vitest';
import {
  readBootId,
  readHostTopology,
  readMdSysfs,
  readMdUuidLinks,
  scsiAddressOf,
} from '../../../agent/scan/sysfs-reader.ts';
import { buildTree, materializeTree, removeScratchTrees, writeTreeFile } from '../../helpers/agent-probes.ts';

afterAll(removeScratchTrees);

/** A disk behind an ibmvscsi host, with as much of sysfs as a test asks for. */
const vscsiDisk = (files: Record<string, string> = {}) =>
  buildTree(
    {
      'sys/devices/vio/30000003/host1/target1:0:2/1:0:2:0/state': 'running\n',
      'sys/block/sdb/size': '2097152\n',
      'sys/class/scsi_host/host1/partition_name': 'vios2\n',
      ...files,
    },
    {
      'sys/block/sdb/device': '../../devices/vio/30000003/host1/target1:0:2/1:0:2:0',
      'sys/devices/vio/30000003/driver': '../../../bus/vio/drivers/ibmvscsi',
    },
  );

describe('scsiAddressOf', () => {
  it('finds the SCSI host and address in a resolved device path', () => {
    expect(scsiAddressOf('/sys/devices/vio/30000003/host1/target1:0:2/1:0:2:0')).toEqual({
      hctl: '1:0:2:0',
      scsiHost: 'host1',
      adapterPath: '/sys/devices/vio/30000003',
    });
    expect(scsiAddressOf('/sys/devices/vio/30000010/host3/rport-3:0-0/target3:0:0/3:0:0:0')?.hctl).toBe(
      '3:0:0:0',
    );
    expect(scsiAddressOf('/sys/devices/pci0000:00/0000:00:04.0/virtio2')).toBeNull();
    expect(scsiAddressOf('/sys/devices/vio/1/host1/target2:0:0/2:0:0:0')).toBeNull();
  });
});

describe('readHostTopology', () => {
  it('derives vscsi:<system>/<partition> from partition_name and vhost_loc, the driver from the adapter link', async () => {
    const root = vscsiDisk({ 'sys/class/scsi_host/host1/vhost_loc': 'U9080.M9S.78AB12C-V7-C3\n' });
    const topology = await readHostTopology({ root, hostId: 'lnxclient07' });
    expect(topology.warnings).toEqual([]);
    expect(topology.disks.get('sdb')).toMatchObject({
      hctl: '1:0:2:0',
      scsiHost: 'host1',
      driver: 'ibmvscsi',
      sizeBytes: 1073741824,
      deviceState: 'running',
      failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios2',
      failureDomainSource: 'vscsi',
    });
  });

  it('names the system from the device tree when the kernel has no vhost_loc', async () => {
    const root = vscsiDisk({
      'proc/device-tree/model': 'IBM,9080-M9S\0',
      'proc/device-tree/system-id': 'IBM,0278AB12C\0',
    });
    const topology = await readHostTopology({ root, hostId: 'lnxclient07' });
    expect(topology.disks.get('sdb')?.failureDomain).toBe('vscsi:Server-9080-M9S-SN78AB12C/vios2');
  });

  it('falls back to local with a warning when the adapter never heard from its hosting partition', async () => {
    const root = vscsiDisk({
      'sys/class/scsi_host/host1/partition_name': 'lnxclient07\n',
      'sys/class/scsi_host/host1/vhost_loc': 'U9080.M9S.78AB12C-V7-C3\n',
      'proc/device-tree/ibm,partition-name': 'lnxclient07\0',
    });
    const topology = await readHostTopology({ root, hostId: 'lnxclient07' });
    expect(topology.disks.get('sdb')).toMatchObject({
      failureDomain: 'local:lnxclient07',
      failureDomainSource: 'local',
    });
    expect(topology.warnings.map((warning) => warning.reason)).toEqual([
      'sdb: cannot name the hosting partition or system of host1; reported as local',
    ]);
  });

  it('lets a topology override name the domain of a disk or of its SCSI host', async () => {
    const root = vscsiDisk({ 'sys/class/scsi_host/host1/vhost_loc': 'U9080.M9S.78AB12C-V7-C3\n' });
    const byHost = await readHostTopology({
      root,
      hostId: 'lnxclient07',
      topology: { scsiHosts: { host1: 'vscsi:Frame2/ibmi1' } },
    });
    expect(byHost.disks.get('sdb')).toMatchObject({
      failureDomain: 'vscsi:Frame2/ibmi1',
      failureDomainSource: 'override',
    });
  });

  it('gives a virtio or NVMe disk its own driver and no domain but local', async () => {
    const root = buildTree(
      { 'sys/block/vda/size': '100\n', 'sys/block/nvme0n1/size': '200\n', 'sys/block/loop0/size': '1\n' },
      {
        'sys/block/vda/device': '../../devices/pci0000:00/0000:00:04.0/virtio2',
        'sys/devices/pci0000:00/0000:00:04.0/virtio2/driver': '../../../../bus/virtio/drivers/virtio_blk',
        'sys/block/nvme0n1/device': '../../devices/pci0000:00/0000:00:05.0/nvme/nvme0',
        'sys/devices/pci0000:00/0000:00:05.0/nvme/nvme0/device': '../../../0000:00:05.0',
        'sys/devices/pci0000:00/0000:00:05.0/driver': '../../../bus/pci/drivers/nvme',
      },
    );
    const topology = await readHostTopology({ root, hostId: 'kvm01' });
    expect([...topology.disks.keys()]).toEqual(['nvme0n1', 'vda']);
    expect(topology.disks.get('vda')).toMatchObject({
      driver: 'virtio_blk',
      hctl: null,
      failureDomain: 'local:kvm01',
    });
    expect(topology.disks.get('nvme0n1')).toMatchObject({ driver: 'nvme', sizeBytes: 102400 });
  });

  it('gives FC disks fc:<target WWPN>, and a map whose paths share one domain that domain', async () => {
    const root = materializeTree('multipath-host');
    const topology = await readHostTopology({ root, hostId: 'lnxclient07' });
    expect(
      [...topology.disks.values()].map((disk) => [
        disk.disk,
        disk.driver,
        disk.failureDomain,
        disk.failureDomainSource,
      ]),
    ).toEqual([
      ['dm-0', 'unknown', 'local:lnxclient07', 'local'],
      ['sda', 'ibmvscsi', 'vscsi:Server-9080-M9S-SN78AB12C/vios1', 'vscsi'],
      ['sdc', 'ibmvfc', 'fc:500507680b21ac1c', 'fc'],
      ['sdd', 'ibmvfc', 'fc:500507680b22ac1c', 'fc'],
      ['sde', 'ibmvfc', 'fc:500507680b31ac1c', 'fc'],
      ['sdf', 'ibmvfc', 'fc:500507680b32ac1c', 'fc'],
    ]);
    expect(topology.disks.get('dm-0')).toMatchObject({
      dmUuid: 'mpath-36005076801810523f8000000000000a1',
      slaves: ['sdc', 'sdd', 'sde', 'sdf'],
    });
    expect(topology.disks.get('sdd')).toMatchObject({ deviceState: 'offline', ioErrorCount: 17 });

    const oneDomain = await readHostTopology({
      root,
      hostId: 'lnxclient07',
      topology: { scsiHosts: { host3: 'fc:500507680b21ac1c', host4: 'fc:500507680b21ac1c' } },
    });
    expect(oneDomain.disks.get('dm-0')).toMatchObject({
      failureDomain: 'fc:500507680b21ac1c',
      failureDomainSource: 'multipath',
    });
  });
});

describe('readHostTopology of NPIV (ibmvfc) disks', () => {
  /** A LUN behind an ibmvfc host, under its remote port, with the host attributes a test gives. */
  const npivDisk = (hostFiles: Record<string, string>) =>
    buildTree(
      {
        'sys/devices/vio/30000004/host2/rport-2:0-0/target2:0:0/2:0:0:0/state': 'running\n',
        'sys/block/sdc/size': '2097152\n',
        'sys/class/scsi_host/host2/proc_name': 'ibmvfc\n',
        'sys/class/fc_transport/target2:0:0/port_name': '0x500507680b21ac1c\n',
        ...Object.fromEntries(
          Object.entries(hostFiles).map(([name, text]) => [`sys/class/scsi_host/host2/${name}`, text]),
        ),
      },
      { 'sys/block/sdc/device': '../../devices/vio/30000004/host2/rport-2:0-0/target2:0:0/2:0:0:0' },
    );

  it("gives a path through a VIOS the VIOS's domain, the system from drc_name, not the physical port", async () => {
    const root = npivDisk({
      partition_name: 'vios1\n',
      device_name: 'fcs0\n',
      port_loc_code: 'U78D3.001.WZS0ABC-P1-C6-T1\n',
      drc_name: 'U9080.M9S.78AB12C-V1-C30\n',
      npiv_version: '1\n',
    });
    const topology = await readHostTopology({ root, hostId: 'lnxclient07' });
    expect(topology.warnings).toEqual([]);
    expect(topology.disks.get('sdc')).toMatchObject({
      driver: 'ibmvfc',
      failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/vios1',
      failureDomainSource: 'npiv',
    });
  });

  it('names the system from the device tree when drc_name names none, and keeps fc: before the NPIV login', async () => {
    const fromDeviceTree = npivDisk({ partition_name: 'vios2\n', drc_name: '\n' });
    writeTreeFile(fromDeviceTree, 'proc/device-tree/model', 'IBM,9080-M9S\0');
    writeTreeFile(fromDeviceTree, 'proc/device-tree/system-id', 'IBM,0278AB12C\0');
    expect(
      (await readHostTopology({ root: fromDeviceTree, hostId: 'lnxclient07' })).disks.get('sdc')
        ?.failureDomain,
    ).toBe('vscsi:Server-9080-M9S-SN78AB12C/vios2');

    const noLogin = npivDisk({ partition_name: '\n', drc_name: '\n', npiv_version: '0\n' });
    writeTreeFile(noLogin, 'proc/device-tree/model', 'IBM,9080-M9S\0');
    writeTreeFile(noLogin, 'proc/device-tree/system-id', 'IBM,0278AB12C\0');
    const topology = await readHostTopology({ root: noLogin, hostId: 'lnxclient07' });
    expect(topology.disks.get('sdc')).toMatchObject({
      failureDomain: 'fc:500507680b21ac1c',
      failureDomainSource: 'fc',
    });
    expect(topology.warnings).toEqual([]);
  });
});

describe('md and boot readers', () => {
  it('reads member states and slots from sysfs and UUIDs from the udev links', async () => {
    const root = materializeTree('md-client-degraded');
    const md2 = await readMdSysfs(root, 'md2');
    expect(md2?.level).toBe('raid1');
    expect(Object.fromEntries(md2?.members ?? [])).toEqual({
      sda3: { state: 'in_sync', slot: '0' },
      sdb3: { state: 'faulty,write_error', slot: '1' },
    });
    expect(await readMdSysfs(root, 'md9')).toBeNull();
    expect(await readMdUuidLinks(root)).toEqual(new Map());
    expect(Object.fromEntries(await readMdUuidLinks(materializeTree('md-client-two-vios')))).toEqual({
      md0: '3b1c2f4e:8a9d0b1c:2e3f4a5b:6c7d8e9f',
      md1: '5a4b3c2d:1e0f9a8b:7c6d5e4f:3a2b1c0d',
      md2: '7d2e1a9c:44b0c3e1:9f8a6b5d:0c1e2f3a',
    });
  });

  it('reads the boot id, else the boot time, else says it has none', async () => {
    expect(await readBootId(materializeTree('md-client-two-vios'))).toEqual({
      bootId: 'b7c1e5d2-4f0a-4c55-9d39-0e7d2a51c3f1',
      source: 'boot_id',
    });
    expect(await readBootId(buildTree({ 'proc/stat': 'btime 1795215600\n' }))).toEqual({
      bootId: 'btime-1795215600',
      source: 'btime',
    });
    expect(await readBootId(buildTree({}))).toEqual({ bootId: 'unknown', source: null });
  });
});
