import { open } from 'node:fs/promises';

/**
 * What else a partition with no md superblock may hold. `mdadm --examine` says "No md superblock
 * detected" of a partition that holds a file system, an LVM physical volume or swap as readily as
 * of an empty one, and `mdadm --add` writes over any of them. Before an add the executor looks for
 * the signatures `wipefs` and `blkid` know best, at their documented offsets, and refuses a
 * partition that carries one: a blank partition is one with nothing on it that anyone could want.
 */

type Signature = { name: string; offset: number; magic: Buffer };

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

/** Signatures by their offset from the start of the partition (util-linux libblkid's probes). */
export const KNOWN_SIGNATURES: readonly Signature[] = [
  { name: 'xfs', offset: 0, magic: ascii('XFSB') },
  { name: 'crypto_LUKS', offset: 0, magic: Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]) },
  { name: 'ntfs', offset: 3, magic: ascii('NTFS    ') },
  { name: 'vfat', offset: 82, magic: ascii('FAT32   ') },
  { name: 'vfat', offset: 54, magic: ascii('FAT1') },
  { name: 'LVM2_member', offset: 512, magic: ascii('LABELONE') },
  { name: 'LVM2_member', offset: 1024, magic: ascii('LABELONE') },
  { name: 'ext2/3/4', offset: 1080, magic: Buffer.from([0x53, 0xef]) },
  { name: 'swap', offset: 4086, magic: ascii('SWAPSPACE2') },
  { name: 'swap', offset: 4086, magic: ascii('SWAP-SPACE') },
  { name: 'btrfs', offset: 65_600, magic: ascii('_BHRfS_M') },
];

const HEAD_BYTES = 65_600 + 8;

/** The name of the first known signature in the head of a device, or null. */
export const signatureIn = (head: Buffer): string | null => {
  for (const signature of KNOWN_SIGNATURES) {
    const end = signature.offset + signature.magic.length;
    if (head.length >= end && head.subarray(signature.offset, end).equals(signature.magic))
      return signature.name;
  }
  return null;
};

/** Reads the head of a device and names what it holds; `unreadable` when it cannot be read. */
export const readSignature = async (path: string): Promise<string | null | 'unreadable'> => {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const head = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0);
    return signatureIn(head.subarray(0, bytesRead));
  } catch {
    return 'unreadable';
  } finally {
    await handle?.close();
  }
};
