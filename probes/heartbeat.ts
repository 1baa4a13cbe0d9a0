import type { GuestDisk, HostRole, HostSnapshot, PlanAction, Platform } from '../events/index.ts';
import type { DraftOf } from './event-draft.ts';

/**
 * A heartbeat's draft from a snapshot (docs/architecture.md §3 `host.heartbeat`): what the agent
 * says of itself, the storage it sees, and a server's side. Pure, so that the control plane builds
 * the very heartbeat a Node agent would send from the sh agent's collect
 * (`POST /v1/agents/:hostId/collect`); the Node agent's agent/detect/heartbeat.ts gives the same
 * fields from its own snapshot.
 */

/** What a heartbeat says about the agent, besides the storage it sees. */
export type HeartbeatSelf = {
  platform: Platform;
  role: HostRole;
  agentVersion: string;
  intervalSeconds: number;
  /** The plan actions this agent can run. */
  capabilities: readonly PlanAction[];
  /** A server's side: the kernel's boot time, the failure domains it serves now, a control domain's guests. */
  server?: {
    bootedAt?: string | undefined;
    serves: readonly string[];
    guests?: readonly GuestDisk[] | undefined;
  };
};

/** The storage part of a heartbeat: what its digest covers. */
export type HeartbeatStorage = Pick<
  DraftOf<'host.heartbeat'>['data'],
  'arrays' | 'paths' | 'disks' | 'replicas'
>;

/**
 * The arrays, paths, disks and state database replicas of a snapshot in the shapes of §3's
 * heartbeat; `replicas` only when the scan read them, so an unread `metadb` says nothing. A disk's
 * `deviceState` only where a probe also read it (`readable`): the scan reads every disk's state,
 * the probe alone says whether it reads.
 */
export const heartbeatStorage = (snapshot: HostSnapshot): HeartbeatStorage => ({
  arrays: snapshot.arrays,
  paths: snapshot.maps.flatMap((map) =>
    map.paths.map((path) => ({
      map: map.map,
      wwid: map.wwid,
      path: path.path,
      hctl: path.hctl,
      failureDomain: path.failureDomain,
      state: path.state,
    })),
  ),
  disks: snapshot.disks.map(({ deviceState, ...disk }) =>
    disk.readable === undefined || deviceState === undefined ? disk : { ...disk, deviceState },
  ),
  ...(snapshot.replicas === undefined ? {} : { replicas: snapshot.replicas }),
});

/** The heartbeat draft of a snapshot. */
export const heartbeatOf = (snapshot: HostSnapshot, self: HeartbeatSelf): DraftOf<'host.heartbeat'> => ({
  type: 'host.heartbeat',
  subject: snapshot.hostId,
  data: {
    platform: self.platform,
    role: self.role,
    agentVersion: self.agentVersion,
    intervalSeconds: self.intervalSeconds,
    capabilities: [...self.capabilities],
    ...heartbeatStorage(snapshot),
    ...(self.server === undefined
      ? {}
      : {
          ...(self.server.bootedAt === undefined ? {} : { bootedAt: self.server.bootedAt }),
          serves: [...self.server.serves],
          ...(self.server.guests === undefined ? {} : { guests: [...self.server.guests] }),
        }),
  },
});
