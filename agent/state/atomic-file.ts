import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces a file so that after a crash or power loss it holds either the old or the new content,
 * never a mix: write a temporary file beside it, fsync it, rename it over the old one, then fsync
 * the directory so the rename itself is on disk. The agent's `seq` reservation depends on it.
 */
export const writeFileAtomic = (path: string, content: string | Uint8Array): void => {
  const directory = dirname(path);
  const temporary = join(directory, `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temporary, 'w', 0o600);
  try {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSilently(temporary);
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temporary, path);
  } catch (error) {
    unlinkSilently(temporary);
    throw error;
  }
  fsyncDirectory(directory);
};

/** Makes a directory entry change (create, rename, unlink) durable. Some file systems refuse: fine. */
export const fsyncDirectory = (directory: string): void => {
  let fd: number | undefined;
  try {
    fd = openSync(directory, 'r');
    fsyncSync(fd);
  } catch {
    // AIX JFS2 and some network file systems cannot fsync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
};

const unlinkSilently = (path: string): void => {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
};
