import { createHash } from 'node:crypto';
import {
  canonicalJson,
  type GuestDisk,
  type HostRole,
  type HostSnapshot,
  type PlanAction,
  type Platform,
} from '../../events/index.ts';
import packageJson from '../../package.json' with { type: 'json' };
import type { DraftOf } from '../../probes/event-draft.ts';
import { type HeartbeatStorage, heartbeatOf, heartbeatStorage } from '../../probes/heartbeat.ts';

/** The version heartbeats report, from the package the agent was built from. */
export const AGENT_VERSION: string = packageJson.version;

/** What a heartbeat says about the agent, besides the storage it sees. */
export type HeartbeatContext = {
  platform: Platform;
  role: HostRole;
  intervalSeconds: number;
  /** The plan actions this agent can run: none until an executor is plugged in. */
  capabilities: readonly PlanAction[];
  /**
   * A server's side (role `hosting` or `control`, agent/serve/): the kernel's boot time, the
   * failure domains it serves now (its serving check passed) and a control domain's guests' disks.
   * Not in the digest: the digest covers storage only.
   */
  server?: { bootedAt?: string; serves: readonly string[]; guests?: readonly GuestDisk[] };
};

/**
 * The storage part of a heartbeat, what the digest covers: the arrays, paths, disks and replicas
 * of a snapshot in §3's shapes (probes/heartbeat.ts, which the control plane uses for the sh
 * agent's collects too).
 */
export type HeartbeatInventory = HeartbeatStorage;
export const heartbeatInventory = heartbeatStorage;

/**
 * The digest of a heartbeat's arrays, paths, disks and replicas: SHA-256 over their canonical JSON
 * (a host without `replicas` keeps the digest it had before the field). It is not an event field:
 * the cloud derives the same value from the heartbeat it receives and, when it did not change, only
 * refreshes the host's last-seen time (§3). The agent keeps it to log whether anything changed and
 * to know which spooled heartbeats are redundant.
 */
export const heartbeatDigest = (inventory: HeartbeatInventory): string =>
  createHash('sha256').update(canonicalJson(inventory)).digest('hex');

/** The heartbeat draft for a snapshot. */
export const heartbeatDraft = (
  snapshot: HostSnapshot,
  context: HeartbeatContext,
): DraftOf<'host.heartbeat'> => heartbeatOf(snapshot, { ...context, agentVersion: AGENT_VERSION });
