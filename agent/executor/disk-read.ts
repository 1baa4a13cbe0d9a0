import { resolve } from 'node:path';
import type { Platform } from '../../events/index.ts';
import { createDdReader, createTreeReader, type DirectRead, type DirectReader } from '../scan/direct-read.ts';
import type { HostAccess } from './host-view.ts';

/**
 * The executor's direct read of a disk's first block: `disk.probe`'s `readable`, and the read that
 * must pass after `scsi.online`. It is the agent's own (agent/scan/direct-read.ts): `dd
 * if=/dev/<disk> of=/dev/null bs=4096 count=1 iflag=direct` in a child process, killed at its
 * timeout, so a dead or blocked disk costs a timed-out child, never a thread of the agent stuck
 * in the kernel (an in-process read of such a disk waits in D state for good). On a tree that is
 * not `/` with no search path of its own (a fixture, a simulated host run in process) the tree's
 * nodes are read instead, as the agent's disk watch does.
 */

export type ExecutorDirectReaderOptions = {
  root: string;
  platform: Platform;
  /** Where `dd` is found: the executor's search path. */
  searchPath: readonly string[];
  /** Whether that path was configured (a simulated host's fakes first): then `dd` is run on any root. */
  searchPathGiven: boolean;
};

/** The reader the executor uses on a root: `dd` on `/` or with a configured search path, else the tree's nodes. */
export const executorDirectReader = (options: ExecutorDirectReaderOptions): DirectReader =>
  resolve(options.root) === '/' || options.searchPathGiven
    ? createDdReader({ platform: options.platform, searchPath: options.searchPath })
    : createTreeReader(options.root, options.platform);

/** Reads a disk's first block through the host's reader (the tree's nodes when it has none). */
export const readDiskDirectly = (host: HostAccess, disk: string, platform: Platform): Promise<DirectRead> =>
  (host.directRead ?? createTreeReader(host.root, platform))(disk).result;
