import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary folder for SQLite files, removed by `remove()`. */
export const temporaryFolder = (
  prefix = 'faultline-queue-',
): { path: string; file(name: string): string; remove(): void } => {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
};

let counter = 0;

/** A queue name no other test uses (letters, digits and `-`, as SQS allows). */
export const uniqueQueueName = (stem: string): string => {
  counter += 1;
  return `${stem}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
};
