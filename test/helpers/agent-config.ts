import { generateKeyPairSync } from 'node:crypto';
import type { AgentConfigFile } from '../../agent/config.ts';

/** Builders of agent configuration files for tests. */

export const AGENT_TOKEN = 'fl_agent_0123456789abcdef0123456789abcdef';

/** A minimal valid configuration: an SQS target on an emulator, static credentials. */
export const agentConfigFile = (overrides: Partial<AgentConfigFile> = {}): AgentConfigFile => ({
  hostId: 'lnxclient07.example.net',
  targets: {
    sqs: {
      queueUrl: 'http://sqs.us-east-1.localhost:4566/000000000000/faultline-events',
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4566',
    },
  },
  credentials: { source: 'static', accessKeyId: 'test', secretAccessKey: 'test' },
  ...overrides,
});

/** A fresh ECDSA P-256 public key as PEM, the kind plans are verified with. */
export const planPublicKeyPem = (curve: 'prime256v1' | 'secp384r1' = 'prime256v1'): string =>
  generateKeyPairSync('ec', { namedCurve: curve })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString();
