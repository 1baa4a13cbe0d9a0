import { inspect } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import { type DeciderMessage, type DeciderOptions, startDecider } from './decider.ts';

/**
 * The decider thread's entry (decider.ts, `startDeciderThread`): its logs, and its metrics after
 * each batch, go to the control plane's thread.
 */

const port = parentPort;
if (port === null) throw new Error('decider-thread.ts runs in a worker thread (startDeciderThread)');

/** Never throws: a log line that cannot be cloned goes as its text, so logging never fails a batch. */
const post = (message: DeciderMessage): void => {
  try {
    port.postMessage(message);
  } catch {
    if (message.kind !== 'log') return;
    const { level, service } = message.entry;
    port.postMessage({
      kind: 'log',
      entry: {
        level: String(level),
        service: String(service),
        message: inspect(message.entry, { depth: 4 }),
      },
    });
  }
};

const decider = startDecider(
  workerData as DeciderOptions,
  (entry) => post({ kind: 'log', entry }),
  (samples) => post({ kind: 'metrics', samples }),
  (failure) => post({ kind: 'storage', failure }),
);
port.on('message', (message: DeciderMessage) => {
  if (message.kind !== 'stop') return;
  decider
    .stop()
    .catch((error: Error) =>
      post({ kind: 'log', entry: { level: 'error', service: 'runtime', message: error.message } }),
    )
    .finally(() => {
      post({ kind: 'stopped' });
      port.close();
    });
});
post({ kind: 'ready' });
