import type { AgentConfig } from '../config.ts';
import type { AgentLog } from '../state/agent-log.ts';
import type { StateDirectory } from '../state/state-directory.ts';
import { ControlRole } from './control-role.ts';
import { HostingRole } from './hosting-role.ts';
import { ServeStateStore } from './serve-state.ts';
import { createServerCommandRunner } from './server-commands.ts';
import type { ServerTools } from './server-host.ts';
import type { ServerRole } from './server-role.ts';

/** The tools of a live server: its programs on the server search path, `os.uptime()`, its files. */
export const liveServerTools = (): ServerTools => ({ run: createServerCommandRunner() });

export type ServerRoleContext = {
  config: Pick<AgentConfig, 'role' | 'platform' | 'root' | 'hostId' | 'hosting' | 'control'>;
  /** The agent's boot id (identity.ts). */
  bootId: string;
  /** Where `serve.json` lives: the agent's state directory. */
  directory: StateDirectory;
  log: AgentLog;
  tools?: ServerTools;
};

/** The server side for a host of role `hosting` or `control`; undefined for a client. */
export const openServerRole = (context: ServerRoleContext): ServerRole | undefined => {
  const { config, bootId, directory, log } = context;
  const tools = context.tools ?? liveServerTools();
  if (config.role === 'hosting') {
    if (config.hosting === undefined) throw new Error('role hosting without its resolved hosting section');
    return new HostingRole(
      { platform: config.platform, root: config.root, hostId: config.hostId, hosting: config.hosting },
      bootId,
      ServeStateStore.open(directory, log),
      tools,
      log,
    );
  }
  if (config.role === 'control') {
    return new ControlRole(config, bootId, ServeStateStore.open(directory, log), tools, log);
  }
  return undefined;
};
