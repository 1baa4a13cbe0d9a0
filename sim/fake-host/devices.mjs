/**
 * The fake host's devices as the model names them (host-model.mjs): which LUN and partition a
 * device name is, whether its `/dev` node exists and reads, and its device numbers. Pure functions
 * of the model, shared by the model, the rendering of its tree (render-tree.mjs) and the fake tools
 * (tools.mjs), so all three see one set of devices.
 */

/** The LUN and partition number behind a device name, or null; `partitionsShown` says whether its node exists. */
export const locateDevice = (model, device) => {
  for (const [hctl, lun] of Object.entries(model.luns)) {
    if (lun.attached === null) continue;
    if (device === lun.attached) return { hctl, lun, number: null };
    if (device.startsWith(lun.attached)) {
      const number = Number(device.slice(lun.attached.length));
      if (Number.isInteger(number) && lun.partitions.some((partition) => partition.number === number)) {
        return { hctl, lun, number };
      }
    }
  }
  return null;
};

export const partitionsShown = (model, lun) => model.simMs >= lun.partitionsAt;

/** Whether `/dev/<device>` exists now. */
export const deviceNodeExists = (model, device) => {
  const located = locateDevice(model, device);
  if (located === null) return false;
  return located.number === null || partitionsShown(model, located.lun);
};

/** Whether a read of `/dev/<device>` returns data: a running, readable LUN whose server answers. */
export const deviceReadable = (model, device) => {
  const located = locateDevice(model, device);
  return (
    located !== null &&
    deviceNodeExists(model, device) &&
    located.lun.readable &&
    located.lun.hangs !== true &&
    located.lun.state === 'running'
  );
};

/** `sd` letters to the minor numbers the sd driver gives: sda 0, sdb 16, ... */
export const diskMinor = (disk) => {
  const letters = disk.replace(/^sd/, '');
  let index = 0;
  for (const letter of letters) index = index * 26 + (letter.charCodeAt(0) - 96);
  return (index - 1) * 16;
};

/** The minor number of a disk or partition by its name; 0 for a device the model does not have. */
export const deviceMinor = (model, device) => {
  const located = locateDevice(model, device);
  return located === null ? 0 : diskMinor(located.lun.attached) + (located.number ?? 0);
};
