import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentConfigFile, ConfigError, resolveAgentConfig } from '../../../agent/config.ts';
import { agentConfigFile } from '../../helpers/agent-config.ts';

const issuesOf = (input: unknown): string[] => {
  try {
    resolveAgentConfig(input, 'agent.json');
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
};

describe('the configuration of a server', () => {
  it('gives a VIOS (role hosting on AIX) the lsmap serving check and the announce wait by default', () => {
    const config = resolveAgentConfig(agentConfigFile({ role: 'hosting', platform: 'aix' }), 'agent.json');
    expect(config.hosting).toEqual({ servingCheck: 'vios' });
    expect(config.announce).toEqual({ waitSeconds: 5 });
    expect(config.intervals.serverCheckSeconds).toBeUndefined();
  });

  it('keeps a configured failure domain and serving command', () => {
    const config = resolveAgentConfig(
      agentConfigFile({
        role: 'hosting',
        platform: 'ibmi',
        hosting: {
          failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/ibmi-host1',
          servingCheck: { command: ['/QOpenSys/pkgs/bin/check-nwsd', 'VIOSNWSD'] },
        },
        intervals: { scanSeconds: 5, heartbeatSeconds: 60, serverCheckSeconds: 30 },
        announce: { waitSeconds: 10 },
      }),
      'agent.json',
    );
    expect(config.hosting).toEqual({
      failureDomain: 'vscsi:Server-9080-M9S-SN78AB12C/ibmi-host1',
      servingCheck: { command: ['/QOpenSys/pkgs/bin/check-nwsd', 'VIOSNWSD'], timeoutSeconds: 30 },
    });
    expect(config.intervals.serverCheckSeconds).toBe(30);
  });

  it('requires a serving command where there is no lsmap to read, and names the key', () => {
    expect(issuesOf(agentConfigFile({ role: 'hosting', platform: 'ibmi' }))).toEqual([
      'hosting.servingCheck: required on ibmi: {"command": ["/path/to/check"]}, whose exit 0 means this partition serves its clients',
    ]);
    expect(
      issuesOf(agentConfigFile({ role: 'hosting', platform: 'linux', hosting: { servingCheck: 'vios' } })),
    ).toEqual(["hosting.servingCheck: 'vios' reads ioscli lsmap, on a VIOS (platform aix), not linux"]);
  });

  it('refuses a serving command that is not an absolute path, a domain of another kind, and a section of another role', () => {
    expect(
      issuesOf(
        agentConfigFile({
          role: 'hosting',
          platform: 'linux',
          hosting: { failureDomain: 'vdisk:cdom1/alternate', servingCheck: { command: ['check-serving'] } },
        }),
      ),
    ).toEqual([
      'hosting.failureDomain: a hosting partition serves a vscsi:<system>/<partition> domain',
      'hosting.servingCheck.command[0]: must be an absolute path',
    ]);
    expect(
      issuesOf(agentConfigFile({ role: 'client', control: { guestHostIds: { ldg1: 'ldg1.example.net' } } })),
    ).toEqual(["control: only for role control (this host's role is client)"]);
    expect(
      issuesOf({
        ...agentConfigFile({ role: 'control' }),
        control: { serviceDomains: { alternate: 'backup' } },
      }),
    ).toEqual([
      'control.serviceDomains.alternate: Invalid option: expected one of "primary"|"alternate"|"io"|"service"',
    ]);
  });

  it('accepts the shipped examples', () => {
    for (const name of ['agent.example.json', 'agent.vios.example.json', 'agent.ibmi.example.json']) {
      const file = JSON.parse(
        readFileSync(join(import.meta.dirname, '../../../agent/dist-files', name), 'utf8'),
      );
      expect(AgentConfigFile.safeParse(file).error?.issues ?? [], name).toEqual([]);
    }
  });
});
