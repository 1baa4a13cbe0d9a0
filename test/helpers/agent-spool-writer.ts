import { join } from 'node:path';
import { FileSpool } from '../../agent/spool/file-spool.ts';
import { streamLog } from '../../agent/state/agent-log.ts';
import { AgentStateStore } from '../../agent/state/agent-state.ts';
import { openStateDirectory } from '../../agent/state/state-directory.ts';
import { outbound, recoveringDraft } from './agent-events.ts';

/**
 * A child process for the spool's crash tests: spools events one at a time, as the agent does,
 * numbering them from the agent's state, and prints each `seq` once its append has returned (that
 * is, once it is fsync'd). The test kills it with SIGKILL in the middle and checks the spool.
 *
 *     node --import tsx agent-spool-writer.ts <state dir> <count>
 */
const [stateDir, countText] = process.argv.slice(2);
if (stateDir === undefined || countText === undefined)
  throw new Error('usage: agent-spool-writer <state dir> <count>');
const log = streamLog();
const directory = openStateDirectory({ stateDir, fallbackStateDir: join(stateDir, 'fallback') }, log);
const state = AgentStateStore.open(
  directory,
  { hostId: 'lnxclient07.example.net', machineId: undefined },
  { log },
);
const spool = FileSpool.open({ directory: join(stateDir, 'spool'), maxBytes: 64 * 1024 * 1024, log });
for (let index = 0; index < Number(countText); index += 1) {
  const seq = state.nextSeq();
  spool.append([outbound(recoveringDraft(index % 100), seq)]);
  process.stdout.write(`${seq}\n`);
}
spool.close();
