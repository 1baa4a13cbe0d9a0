import { inspect } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import { type DeciderMessage, type DeciderOptions, startDecider } from './decider.ts';

/** The decider thread's entry (decider.ts, `startDeciderThread`): its logs go to the control plane. */

const port = parentPort;
if (port === null) throw new Error('decider-thread.ts runs in a worker thread (startDeciderThread)');

const post = (message: DeciderMessage): void => {
  try {
    port.postMessage(message);
  } catch {
    // An entry that cannot be cloned goes as its JSON.
    if (message.kind === 'log')
      port.postMessage({ kind: 'log', entry: JSON.parse(JSON.stringify(message.entry)) });
  }
};

const decider = startDecider(workerData as DeciderOptions, (entry) => post({ kind: 'log', entry }));
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
