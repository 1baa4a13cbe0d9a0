import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { FaultlineError } from '../events/faultline-error.ts';
import { ConsoleName, DomainRole, FailureDomain, HostId, HostRole, Platform } from '../events/index.ts';
import { TopologyOverrides } from '../probes/topology.ts';

/**
 * The agent's configuration: one JSON file (`faultline-agent run --config /etc/faultline/agent.json`),
 * read once at start into a zod-validated object; nothing else in the agent reads the environment.
 * Every key is checked, unknown keys included (a misspelt `queueURL` would otherwise silently
 * leave the agent with no target), and every error names its key: `targets.sqs.queueUrl: ...`.
 */

/** Where the hook and the systemd unit look when no `--config` is given. */
export const DEFAULT_CONFIG_PATH = '/etc/faultline/agent.json';

/** Defaults an operator of a fleet would expect; each one can be overridden in the file. */
export const CONFIG_DEFAULTS = {
  role: 'client',
  root: '/',
  stateDir: '/var/lib/faultline',
  /** tmpfs on every systemd host: survives an agent restart, not a reboot, and stays writable on a read-only root. */
  fallbackStateDir: '/run/faultline',
  stopFile: '/etc/faultline/stop',
  scanSeconds: 5,
  heartbeatSeconds: 60,
  retryInitialSeconds: 1,
  retryMaxSeconds: 300,
  requestTimeoutSeconds: 30,
  spoolMaxBytes: 16 * 1024 * 1024,
  /** How long `announce going-down` waits for the control plane before leaving the event spooled. */
  announceWaitSeconds: 5,
  /** A serving check that takes longer than this has failed. */
  servingCheckTimeoutSeconds: 30,
} as const;

const AbsolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((path) => isAbsolute(path) && !path.includes('\0'), 'must be an absolute path');

const AwsRegion = z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/, 'not an AWS region such as eu-west-1');

const HttpUrl = z.url({ protocol: /^https?$/, error: 'not an http(s) URL' });

/** Events go to SQS when this target is configured; the agent sends as its own IAM role session. */
export const SqsTargetConfig = z.strictObject({
  queueUrl: HttpUrl,
  region: AwsRegion,
  /** An endpoint override: a VPC interface endpoint, or an emulator in tests. */
  endpoint: HttpUrl.optional(),
});
export type SqsTargetConfig = z.infer<typeof SqsTargetConfig>;

/** The control plane's HTTP API: `POST /v1/events` when no SQS target is set, and plans. */
export const ApiTargetConfig = z
  .strictObject({
    url: HttpUrl,
    /** The agent token (`faultline tokens create --host <id>`), bound to this host. */
    agentToken: z.string().min(16, 'an agent token has at least 16 characters').max(4096).optional(),
    /** A file holding the token, so the config can be world-readable and the token not. */
    agentTokenFile: AbsolutePath.optional(),
  })
  .superRefine((target, context) => {
    if ((target.agentToken === undefined) === (target.agentTokenFile === undefined)) {
      context.addIssue({
        code: 'custom',
        path: ['agentToken'],
        message: 'set exactly one of agentToken and agentTokenFile',
      });
    }
  });
export type ApiTargetConfig = z.infer<typeof ApiTargetConfig>;

export const TargetsConfig = z
  .strictObject({ sqs: SqsTargetConfig.optional(), api: ApiTargetConfig.optional() })
  .refine((targets) => targets.sqs !== undefined || targets.api !== undefined, {
    message: 'configure targets.sqs, targets.api or both',
  });
export type TargetsConfig = z.infer<typeof TargetsConfig>;

/**
 * Where AWS credentials come from. `default` is the SDK's chain (environment, `~/.aws/config`
 * profiles with `credential_process`, instance metadata); `process` runs a credential process
 * such as `aws_signing_helper credential-process` (IAM Roles Anywhere) directly, with an argument
 * vector and no shell; `static` is for emulators and tests only.
 */
export const CredentialsConfig = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('default') }),
  z.strictObject({ source: z.literal('profile'), profile: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/) }),
  z.strictObject({
    source: z.literal('process'),
    command: z.array(z.string().min(1).max(4096)).min(1).max(64),
  }),
  z.strictObject({
    source: z.literal('static'),
    accessKeyId: z.string().min(1).max(128),
    secretAccessKey: z.string().min(1).max(256),
    sessionToken: z.string().min(1).max(4096).optional(),
  }),
]);
export type CredentialsConfig = z.infer<typeof CredentialsConfig>;

export const IntervalsConfig = z.strictObject({
  /** How often the agent scans and diffs; `hook` triggers a scan in between. */
  scanSeconds: z.number().min(0.05).max(3600).default(CONFIG_DEFAULTS.scanSeconds),
  /** Heartbeats say the agent is alive: the cloud escalates an agent silent past three of them. */
  heartbeatSeconds: z.int().min(1).max(86_400).default(CONFIG_DEFAULTS.heartbeatSeconds),
  /**
   * How often a server (role `hosting` or `control`) runs its serving check, or looks at its
   * service domains with `ldm list -p`; the scan interval when unset.
   */
  serverCheckSeconds: z.number().min(0.05).max(3600).optional(),
});
export type IntervalsConfig = z.infer<typeof IntervalsConfig>;

export const RetryConfig = z
  .strictObject({
    initialSeconds: z.number().min(0.01).max(3600).default(CONFIG_DEFAULTS.retryInitialSeconds),
    maxSeconds: z.number().min(0.01).max(86_400).default(CONFIG_DEFAULTS.retryMaxSeconds),
  })
  .refine((retry) => retry.maxSeconds >= retry.initialSeconds, {
    path: ['maxSeconds'],
    message: 'must be at least initialSeconds',
  });
export type RetryConfig = z.infer<typeof RetryConfig>;

export const SpoolConfig = z.strictObject({
  /** Past this many bytes of undelivered events, old heartbeats are dropped; symptoms never are. */
  maxBytes: z
    .int()
    .min(64 * 1024)
    .max(4 * 1024 * 1024 * 1024)
    .default(CONFIG_DEFAULTS.spoolMaxBytes),
});
export type SpoolConfig = z.infer<typeof SpoolConfig>;

/**
 * How a hosting partition knows it serves again (§5.2): `vios`, its virtual SCSI target devices
 * `Available` in `ioscli lsmap -all` (and any virtual FC adapter mapped in `lsmap -all -npiv`),
 * or a command of the operator's, run with an argument vector (no shell), whose exit 0 means
 * serving (an IBM i's network server descriptions varied on, a Linux target's LUNs exported).
 */
export const ServingCheckConfig = z.union([
  z.literal('vios'),
  z.strictObject({
    command: z.tuple([AbsolutePath], z.string().min(1).max(4096)).check(z.maxLength(64)),
    timeoutSeconds: z.number().min(1).max(600).default(CONFIG_DEFAULTS.servingCheckTimeoutSeconds),
  }),
]);
export type ServingCheckConfig = z.infer<typeof ServingCheckConfig>;

/** A hosting partition's own failure domain and serving check (role `hosting`). */
export const HostingConfig = z.strictObject({
  /**
   * `vscsi:<system>/<partition>`, as its clients name it; derived from the partition's own name
   * and managed system when unset (AIX and VIOS: `uname -L`, `-M`, `-u`; Linux: the device tree).
   */
  failureDomain: FailureDomain.refine((domain) => domain.startsWith('vscsi:'), {
    message: 'a hosting partition serves a vscsi:<system>/<partition> domain',
  }).optional(),
  servingCheck: ServingCheckConfig.optional(),
});
export type HostingConfig = z.infer<typeof HostingConfig>;

/** An LDoms control domain's service domains and guests (role `control`). */
export const ControlConfig = z.strictObject({
  /**
   * The service domains and their roles; when unset, every domain that runs a virtual disk
   * service (`ldm list-services -p`), the control domain as `primary`, the others `alternate`.
   */
  serviceDomains: z.record(ConsoleName, DomainRole).optional(),
  /** A guest's host id where it is not its domain name: `{"ldg1": "ldg1.example.net"}`. */
  guestHostIds: z.record(ConsoleName, ConsoleName).optional(),
});
export type ControlConfig = z.infer<typeof ControlConfig>;

/** `faultline-agent announce`. */
export const AnnounceConfig = z.strictObject({
  /** How long it waits for delivery before it leaves the event in the spool and returns. */
  waitSeconds: z.number().min(0.5).max(120).default(CONFIG_DEFAULTS.announceWaitSeconds),
});
export type AnnounceConfig = z.infer<typeof AnnounceConfig>;

const PEM_PUBLIC_KEY = /^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----\s*$/;

/** The configuration file as written by an operator. */
export const AgentConfigFile = z
  .strictObject({
    hostId: HostId,
    role: HostRole.default(CONFIG_DEFAULTS.role),
    /** Defaults to the platform Node reports (`linux`, `aix`, `os400` is IBM i PASE, `sunos`). */
    platform: Platform.optional(),
    /** The file system root the probes read; `/` on a host, a fixture tree in tests. */
    root: AbsolutePath.default(CONFIG_DEFAULTS.root),
    targets: TargetsConfig,
    credentials: CredentialsConfig.default({ source: 'default' }),
    intervals: IntervalsConfig.default({
      scanSeconds: CONFIG_DEFAULTS.scanSeconds,
      heartbeatSeconds: CONFIG_DEFAULTS.heartbeatSeconds,
    }),
    retry: RetryConfig.default({
      initialSeconds: CONFIG_DEFAULTS.retryInitialSeconds,
      maxSeconds: CONFIG_DEFAULTS.retryMaxSeconds,
    }),
    requestTimeoutSeconds: z.number().min(0.1).max(600).default(CONFIG_DEFAULTS.requestTimeoutSeconds),
    stateDir: AbsolutePath.default(CONFIG_DEFAULTS.stateDir),
    fallbackStateDir: AbsolutePath.default(CONFIG_DEFAULTS.fallbackStateDir),
    spool: SpoolConfig.default({ maxBytes: CONFIG_DEFAULTS.spoolMaxBytes }),
    /** Disks or SCSI hosts mapped to failure domains where discovery cannot tell (§3). */
    topology: TopologyOverrides.optional(),
    /** An HTTP proxy (`http://[user:password@]proxy:3128`) reached with CONNECT for every target. */
    proxy: z.url({ protocol: /^http$/, error: 'not an http:// proxy URL' }).optional(),
    /** A PEM bundle of CAs trusted for the targets, in addition to Node's own. */
    caBundle: AbsolutePath.optional(),
    /** The plans' ECDSA P-256 public key, as PEM text (`\n` escaped in JSON) ... */
    planPublicKey: z.string().regex(PEM_PUBLIC_KEY, 'not a PEM public key').optional(),
    /** ... or the file holding it. */
    planPublicKeyFile: AbsolutePath.optional(),
    /** While this file exists, the agent runs no plan (it still observes and reports). */
    stopFile: AbsolutePath.default(CONFIG_DEFAULTS.stopFile),
    /** Role `hosting`: its failure domain and serving check. */
    hosting: HostingConfig.optional(),
    /** Role `control`: its service domains and guests. */
    control: ControlConfig.optional(),
    announce: AnnounceConfig.default({ waitSeconds: CONFIG_DEFAULTS.announceWaitSeconds }),
  })
  .superRefine((config, context) => {
    for (const section of ['hosting', 'control'] as const) {
      if (config[section] !== undefined && config.role !== section) {
        context.addIssue({
          code: 'custom',
          path: [section],
          message: `only for role ${section} (this host's role is ${config.role})`,
        });
      }
    }
    if (config.planPublicKey !== undefined && config.planPublicKeyFile !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['planPublicKey'],
        message: 'set at most one of planPublicKey and planPublicKeyFile',
      });
    }
  });
export type AgentConfigFile = z.input<typeof AgentConfigFile>;

type ParsedConfigFile = z.output<typeof AgentConfigFile>;

/** The API target with its token read from wherever the file said. */
export type ResolvedApiTarget = { url: string; agentToken: string };

/**
 * The configuration the agent runs with: the file's values with defaults applied and every
 * referenced file (token, CA bundle, public key) read and checked, so a bad path fails at start
 * with its key rather than at the first fault.
 */
export type AgentConfig = Omit<
  ParsedConfigFile,
  'platform' | 'targets' | 'planPublicKey' | 'planPublicKeyFile' | 'caBundle' | 'hosting'
> & {
  platform: Platform;
  /** Role `hosting`: with its serving check decided (`vios` on AIX when the file names none). */
  hosting?: { failureDomain?: string; servingCheck: ServingCheckConfig };
  targets: { sqs?: SqsTargetConfig; api?: ResolvedApiTarget };
  /** The PEM text of the extra CAs, when `caBundle` is set. */
  caCertificates?: string;
  /** The plans' public key, verified to be P-256, when one is configured. */
  planPublicKey?: KeyObject;
  /** The file the configuration came from, for log lines. */
  source: string;
};

/** A configuration that cannot be used: each issue names its key. */
export class ConfigError extends FaultlineError<'config-invalid'> {
  readonly code = 'config-invalid' as const;
  readonly retryable = false;
  constructor(
    readonly source: string,
    readonly issues: readonly string[],
    options?: ErrorOptions,
  ) {
    super(`${source}: ${issues.join('; ')}`, options);
  }
}

const keyPath = (path: readonly PropertyKey[]): string =>
  path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');

/** One zod issue as `key.path: message`, the form every config error takes. */
const describeIssue = (issue: z.core.$ZodIssue): string[] => {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${keyPath([...issue.path, key])}: unknown key`);
  }
  const where = issue.path.length === 0 ? '(top level)' : keyPath(issue.path);
  const message = /received undefined$/.test(issue.message) ? 'required' : issue.message;
  return [`${where}: ${message}`];
};

const platformOfNode = (nodePlatform: NodeJS.Platform | 'os400'): Platform => {
  switch (nodePlatform) {
    case 'aix':
      return 'aix';
    case 'os400':
      return 'ibmi';
    case 'sunos':
      return 'solaris';
    default:
      return 'linux';
  }
};

/** Reads the files a configuration refers to; injected so tests need no real /etc. */
export type ReadConfigFile = (path: string) => string;

/**
 * Validates a parsed configuration and resolves the files it names. Pure apart from `readFile`.
 * Throws `ConfigError` listing every bad key at once.
 */
export const resolveAgentConfig = (
  input: unknown,
  source: string,
  readFile: ReadConfigFile = (path) => readFileSync(path, 'utf8'),
): AgentConfig => {
  const parsed = AgentConfigFile.safeParse(input);
  if (!parsed.success) throw new ConfigError(source, parsed.error.issues.flatMap(describeIssue));
  const file = parsed.data;
  const issues: string[] = [];
  const read = (key: string, path: string): string | undefined => {
    try {
      return readFile(path);
    } catch (error) {
      issues.push(`${key}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  };

  let api: ResolvedApiTarget | undefined;
  if (file.targets.api !== undefined) {
    const token =
      file.targets.api.agentToken ??
      read('targets.api.agentTokenFile', file.targets.api.agentTokenFile ?? '')?.trim();
    if (token !== undefined && token.length < 16) {
      issues.push('targets.api.agentTokenFile: the token in it has fewer than 16 characters');
    } else if (token !== undefined) {
      api = { url: file.targets.api.url, agentToken: token };
    }
  }

  let planPublicKey: KeyObject | undefined;
  const pem =
    file.planPublicKey ??
    (file.planPublicKeyFile === undefined ? undefined : read('planPublicKeyFile', file.planPublicKeyFile));
  if (pem !== undefined) {
    const key = file.planPublicKey === undefined ? 'planPublicKeyFile' : 'planPublicKey';
    try {
      const loaded = createPublicKey(pem);
      if (loaded.asymmetricKeyType !== 'ec' || loaded.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        issues.push(`${key}: plans are signed with ECDSA P-256; this key is not one`);
      } else {
        planPublicKey = loaded;
      }
    } catch {
      issues.push(`${key}: not a PEM public key`);
    }
  }

  const resolvedPlatform = file.platform ?? platformOfNode(process.platform);
  let hosting: AgentConfig['hosting'];
  if (file.role === 'hosting') {
    const servingCheck = file.hosting?.servingCheck ?? (resolvedPlatform === 'aix' ? 'vios' : undefined);
    if (servingCheck === undefined) {
      issues.push(
        `hosting.servingCheck: required on ${resolvedPlatform}: {"command": ["/path/to/check"]}, whose exit 0 means this partition serves its clients`,
      );
    } else if (servingCheck === 'vios' && resolvedPlatform !== 'aix') {
      issues.push(
        `hosting.servingCheck: 'vios' reads ioscli lsmap, on a VIOS (platform aix), not ${resolvedPlatform}`,
      );
    } else {
      hosting = {
        ...(file.hosting?.failureDomain === undefined ? {} : { failureDomain: file.hosting.failureDomain }),
        servingCheck,
      };
    }
  }

  const caCertificates = file.caBundle === undefined ? undefined : read('caBundle', file.caBundle);
  if (caCertificates !== undefined && !caCertificates.includes('-----BEGIN CERTIFICATE-----')) {
    issues.push(`caBundle: ${file.caBundle} holds no PEM certificate`);
  }
  if (issues.length > 0) throw new ConfigError(source, issues);

  const {
    platform,
    targets,
    planPublicKey: _pem,
    planPublicKeyFile: _pemFile,
    caBundle: _caBundle,
    hosting: _hosting,
    ...rest
  } = file;
  return {
    ...rest,
    platform: platform ?? resolvedPlatform,
    ...(hosting === undefined ? {} : { hosting }),
    targets: {
      ...(targets.sqs === undefined ? {} : { sqs: targets.sqs }),
      ...(api === undefined ? {} : { api }),
    },
    ...(caCertificates === undefined ? {} : { caCertificates }),
    ...(planPublicKey === undefined ? {} : { planPublicKey }),
    source,
  };
};

/** Reads and validates the configuration file; throws `ConfigError` naming every bad key. */
export const loadAgentConfig = (
  path: string,
  readFile: ReadConfigFile = (file) => readFileSync(file, 'utf8'),
): AgentConfig => {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(
      path,
      [`cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`],
      {
        cause: error,
      },
    );
  }
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [`not JSON: ${(error as Error).message}`], { cause: error });
  }
  return resolveAgentConfig(input, path, readFile);
};
