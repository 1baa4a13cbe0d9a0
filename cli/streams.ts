import type { Writable } from 'node:stream';

/** Where a command writes: stdout and stderr, so tests can capture them. */
export type Streams = { stdout: (text: string) => void; stderr: (text: string) => void };

/**
 * The exit status of a command whose reader went away: 128 + SIGPIPE (13), the status a shell
 * reports for any Unix tool that `head` cut off, and what `set -o pipefail` sees.
 */
export const CLOSED_OUTPUT_EXIT = 141;

/** The process's own stdout and stderr, as `faultline` writes them. */
export interface ProcessOutput {
  readonly streams: Streams;
  /** Aborted once the reader of stdout or stderr went away: a long-running command stops then. */
  readonly closed: AbortSignal;
}

/**
 * The process's output, ended quietly when its reader goes away: `faultline incidents | head -1`,
 * or `faultline pause | resume` pasted as one line (the shell finds no `resume` command and closes
 * the pipe while `pause` is still talking to the API). Node ignores SIGPIPE, so such a write fails
 * with EPIPE, reported as an `error` event of the stream, which unhandled is a crash with a stack
 * trace. Here the stream then writes nothing more and `closed` is aborted: a one-shot command
 * finishes what it was doing (the pause stays made), `demo` stops its fleet, `up` drains as on
 * SIGTERM, and `main` ends with {@link CLOSED_OUTPUT_EXIT}. Any other write error is thrown as before.
 */
export const processOutput = (
  stdout: Writable = process.stdout,
  stderr: Writable = process.stderr,
): ProcessOutput => {
  const controller = new AbortController();
  const guarded = (stream: Writable): ((text: string) => void) => {
    let open = true;
    const closeOn = (error: NodeJS.ErrnoException | null | undefined): boolean => {
      if (error?.code !== 'EPIPE') return false;
      open = false;
      controller.abort();
      return true;
    };
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // Once closed, the stream reports only that it is: nothing to say.
      if (open && !closeOn(error)) throw error;
    });
    return (text) => {
      if (!open) return;
      stream.write(text);
      // A write to a pipe fails at once (its 'error' event comes a tick later): the command ends
      // knowing its output is gone.
      closeOn(stream.errored);
    };
  };
  return { streams: { stdout: guarded(stdout), stderr: guarded(stderr) }, closed: controller.signal };
};
