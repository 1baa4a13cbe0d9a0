import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AgentConfigFile,
  CONFIG_DEFAULTS,
  ConfigError,
  loadAgentConfig,
  resolveAgentConfig,
} from '../../../agent/config.ts';
import { AGENT_TOKEN, agentConfigFile, planPublicKeyPem } from '../../helpers/agent-config.ts';

const scratch = mkdtempSync(join(tmpdir(), 'faultline-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const issuesOf = (input: unknown, readFile?: (path: string) => string): string[] => {
  try {
    resolveAgentConfig(input, 'agent.json', readFile);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
};

describe('resolveAgentConfig', () => {
  it('applies the defaults an operator expects to a minimal file', () => {
    const config = resolveAgentConfig(agentConfigFile(), 'agent.json');
    expect(config).toMatchObject({
      hostId: 'lnxclient07.example.net',
      role: 'client',
      root: '/',
      stateDir: CONFIG_DEFAULTS.stateDir,
      fallbackStateDir: CONFIG_DEFAULTS.fallbackStateDir,
      stopFile: CONFIG_DEFAULTS.stopFile,
      intervals: { scanSeconds: 5, heartbeatSeconds: 60 },
      retry: { initialSeconds: 1, maxSeconds: 300 },
      spool: { maxBytes: 16 * 1024 * 1024 },
      source: 'agent.json',
    });
    expect(config.platform).toMatch(/^(linux|aix|ibmi|solaris)$/);
    expect(config.targets.api).toBeUndefined();
  });

  it.each([
    [
      'a queue URL that is not a URL',
      { queueUrl: 'faultline-events' },
      'targets.sqs.queueUrl: not an http(s) URL',
    ],
    [
      'a region that is not one',
      { region: 'Ireland' },
      'targets.sqs.region: not an AWS region such as eu-west-1',
    ],
    ['a misspelt key', { queueURL: 'x' }, 'targets.sqs.queueURL: unknown key'],
  ])('names the key of %s', (_case, change, issue) => {
    const file = agentConfigFile();
    const sqs = { ...file.targets.sqs, ...change };
    expect(issuesOf({ ...file, targets: { sqs } })).toContain(issue);
  });

  it('names a missing required key', () => {
    const { hostId: _hostId, ...withoutHost } = agentConfigFile();
    expect(issuesOf(withoutHost)).toEqual(['hostId: required']);
  });

  it('lists every bad key at once', () => {
    const issues = issuesOf({
      ...agentConfigFile(),
      hostId: 'bad host',
      role: 'server',
      intervals: { scanSeconds: 0, heartbeatSeconds: 1.5 },
      proxy: 'socks5://proxy:1080',
    });
    expect(issues.map((issue) => issue.split(':')[0])).toEqual([
      'hostId',
      'role',
      'intervals.scanSeconds',
      'intervals.heartbeatSeconds',
      'proxy',
    ]);
  });

  it('requires a target', () => {
    expect(issuesOf({ ...agentConfigFile(), targets: {} })).toEqual([
      'targets: configure targets.sqs, targets.api or both',
    ]);
  });

  it('requires exactly one of the API token and its file', () => {
    expect(
      issuesOf({ ...agentConfigFile(), targets: { api: { url: 'https://faultline.example.net' } } }),
    ).toEqual(['targets.api.agentToken: set exactly one of agentToken and agentTokenFile']);
  });

  it('reads the token file, and names it when it cannot', () => {
    const tokenFile = join(scratch, 'agent.token');
    writeFileSync(tokenFile, `${AGENT_TOKEN}\n`);
    const file = {
      ...agentConfigFile(),
      targets: { api: { url: 'https://faultline.example.net', agentTokenFile: tokenFile } },
    };
    expect(resolveAgentConfig(file, 'agent.json').targets.api).toEqual({
      url: 'https://faultline.example.net',
      agentToken: AGENT_TOKEN,
    });
    const missing = {
      ...file,
      targets: { api: { url: 'https://faultline.example.net', agentTokenFile: join(scratch, 'nope') } },
    };
    expect(issuesOf(missing)).toEqual([
      `targets.api.agentTokenFile: cannot read ${join(scratch, 'nope')} (ENOENT)`,
    ]);
  });

  it('loads a P-256 plan key and names a key of another curve', () => {
    const config = resolveAgentConfig(
      { ...agentConfigFile(), planPublicKey: planPublicKeyPem() },
      'agent.json',
    );
    expect(config.planPublicKey?.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(issuesOf({ ...agentConfigFile(), planPublicKey: planPublicKeyPem('secp384r1') })).toEqual([
      'planPublicKey: plans are signed with ECDSA P-256; this key is not one',
    ]);
  });

  it('names a CA bundle that holds no certificate', () => {
    const bundle = join(scratch, 'ca.pem');
    writeFileSync(bundle, 'not a certificate');
    expect(issuesOf({ ...agentConfigFile(), caBundle: bundle })).toEqual([
      `caBundle: ${bundle} holds no PEM certificate`,
    ]);
  });

  it('names a topology override that is not a failure domain', () => {
    expect(issuesOf({ ...agentConfigFile(), topology: { disks: { sdb: 'vios2' } } })[0]).toMatch(
      /^topology\.disks\.sdb: not a failure domain/,
    );
  });

  it('takes the AIX adapters an operator places, and names one that is not a failure domain', () => {
    expect(
      issuesOf({ ...agentConfigFile(), topology: { adapters: { vscsi1: 'vscsi:p770-a/vios2' } } }),
    ).toEqual([]);
    expect(issuesOf({ ...agentConfigFile(), topology: { adapters: { vscsi1: 'vios2' } } })[0]).toMatch(
      /^topology\.adapters\.vscsi1: not a failure domain/,
    );
  });

  it('accepts relative paths nowhere', () => {
    expect(issuesOf({ ...agentConfigFile(), stateDir: 'state' })).toEqual([
      'stateDir: must be an absolute path',
    ]);
  });
});

describe('the shipped example configuration', () => {
  it('is valid, so the operator docs never show a file the agent refuses', () => {
    const example = join(import.meta.dirname, '..', '..', '..', 'agent', 'dist-files', 'agent.example.json');
    const file = JSON.parse(readFileSync(example, 'utf8'));
    expect(AgentConfigFile.safeParse(file).success).toBe(true);
  });
});

describe('loadAgentConfig', () => {
  it('reads the file once into a validated object', () => {
    const path = join(scratch, 'agent.json');
    writeFileSync(path, JSON.stringify(agentConfigFile({ role: 'hosting', platform: 'aix' })));
    expect(loadAgentConfig(path)).toMatchObject({
      role: 'hosting',
      hosting: { servingCheck: 'vios' },
      source: path,
    });
  });

  it('says when the file is not JSON', () => {
    const path = join(scratch, 'broken.json');
    writeFileSync(path, '{"hostId": ');
    expect(() => loadAgentConfig(path)).toThrow(/broken\.json: not JSON/);
  });

  it('says when the file cannot be read', () => {
    expect(() => loadAgentConfig(join(scratch, 'absent.json'))).toThrow(
      /absent\.json: cannot read the file \(ENOENT\)/,
    );
  });
});
