import { SimClient, type SimClientOptions } from '../../sim/client.ts';
import type { ControlPlane } from '../../sim/control-plane-client.ts';
import type { ViosClient } from '../../sim/vios.ts';

/**
 * vios2's clients laid out as some in the field are, beside the plain ones (#14), in the same
 * outage and healed by the same waves:
 *
 * - `lnxnobm01`: md0 and md1 with no write-intent bitmap, on mdadm 3.2.3, which refuses both the
 *   `--re-add` and the `--add` of a member that missed writes ("reports being an active member ...
 *   not performing --add"). Its plan zeroes each member's superblock right before adding it back
 *   (`md.zero-superblock`), and both arrays rebuild in full.
 * - `lnx2dsk01`: a root disk and a data disk from each VIOS (`sdb` and `sdc` from vios2, md2 over
 *   the data disks). vios2's outage takes both disks; one plan heals both, the field order disk
 *   after disk.
 */

export const VARIANT_CLIENTS = { noBitmap: 'lnxnobm01', twoDisks: 'lnx2dsk01' } as const;

/** The mdadm of the client without a bitmap: the last one that refuses the stale `--add`. */
export const NO_BITMAP_MDADM = '3.2.3';

/** What the story says of them when the demo starts. */
export const VARIANT_STORY = `${VARIANT_CLIENTS.noBitmap}: md0, md1 with no write-intent bitmap on mdadm ${NO_BITMAP_MDADM}; ${VARIANT_CLIENTS.twoDisks}: a root and a data disk from each VIOS`;

/** Each of them: its host id and its layout. */
const VARIANTS: readonly Pick<SimClientOptions, 'hostId' | 'bitmap' | 'mdadmVersion' | 'dataDisk'>[] = [
  { hostId: VARIANT_CLIENTS.noBitmap, bitmap: false, mdadmVersion: NO_BITMAP_MDADM },
  { hostId: VARIANT_CLIENTS.twoDisks, dataDisk: true },
];

/** How a VIOS serves them, their partition ids from `firstPartitionId`: a target per disk. */
export const variantViosClients = (firstPartitionId: number): ViosClient[] =>
  VARIANTS.map((variant, index) => ({
    hostId: variant.hostId,
    partitionId: firstPartitionId + index,
    disks: variant.dataDisk === true ? 2 : 1,
  }));

/** The clients, their indexes from `firstIndex` (their arrays' UUIDs and boot ids follow from them). */
export const variantClients = async (
  controlPlane: ControlPlane,
  options: Omit<
    SimClientOptions,
    'hostId' | 'agentToken' | 'index' | 'bitmap' | 'mdadmVersion' | 'dataDisk'
  > & {
    firstIndex: number;
  },
): Promise<SimClient[]> => {
  const { firstIndex, ...rest } = options;
  const clients: SimClient[] = [];
  for (const [index, variant] of VARIANTS.entries()) {
    clients.push(
      new SimClient({
        ...rest,
        ...variant,
        index: firstIndex + index,
        agentToken: await controlPlane.mintAgentToken(variant.hostId),
      }),
    );
  }
  return clients;
};

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** What was special about one of them, from what its tools recorded. */
const variantNote = (client: SimClient): string => {
  const actions = client.actions();
  const notes: string[] = [];
  if (!client.bitmap) {
    const zeroed = actions.filter((argv) => argv[0] === 'mdadm' && argv[1] === '--zero-superblock').length;
    notes.push(
      `no bitmap (mdadm ${client.mdadmVersion ?? 'default'}): ${count(zeroed, 'superblock')} zeroed, rebuilt in full`,
    );
  }
  const disks = client.remoteDisks();
  if (disks.length > 1) {
    const rescanned = actions.filter((argv) => argv[0] === 'write' && argv[1]?.endsWith('/scan')).length;
    notes.push(
      `two disks (${disks.join(', ')}): ${count(rescanned, 'disk')} rescanned by ${count(client.plansAdmitted.length, 'plan')}`,
    );
  }
  return `${client.hostId} ${notes.join('; ')}`;
};

/** The summary's line about them. */
export const variantLine = (clients: readonly SimClient[]): string =>
  `vios2's other layouts: ${clients.map(variantNote).join('; ')}`;
