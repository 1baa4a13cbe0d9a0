import { z } from 'zod';
import { FailureDomain, GuestDisk, type HostSnapshot, type PlanAction, Rfc3339 } from '../events/index.ts';
import type { CollectBody } from './collect-body.ts';
import { controlLook, controlOwnDomains, servicesOfDisks } from './control-domain.ts';
import { DetectionState } from './detection-state.ts';
import type { EventDraft } from './event-draft.ts';
import { heartbeatOf } from './heartbeat.ts';
import { detectChanges } from './snapshot-diff.ts';
import { solarisSnapshot } from './solaris-snapshot.ts';

/**
 * What a Node agent on the sh agent's host would have sent, from one collect (docs/architecture.md
 * §2 "Platforms", §6 `POST /v1/agents/:hostId/collect`) and what the control plane remembers of
 * the host from its last collect. Pure: the control plane (functions/api/collect.ts) reads the
 * memory from the store, gives each draft its envelope and id, and judges and queues them as
 * ingest does posted events. The drafts, in this order:
 *
 * 1. `command.progress` for each line of `progress`, with its plan's id as `planid`;
 * 2. the storage changes since the last collect of this boot (probes/snapshot-diff.ts over the
 *    snapshot of probes/solaris-snapshot.ts): `mirror.degraded`, `mirror.recovering`,
 *    `mirror.healthy`, marked with the host's `planid` when a plan ran. After a reboot (another
 *    `bootid`) detection starts afresh and reports the faults present, as the Node agent does. A
 *    returned disk gets no `disk.probed`: that takes a read of the device, which only the host can
 *    make (the sh agent reports its probes as plan steps);
 * 3. on a control domain (`role=control`) with `ldm-list`, what it says of its service domains
 *    (probes/control-domain.ts): `domain.going-down`, `domain.rebooted`, its own boot once;
 * 4. `host.heartbeat`: every collect, of the new snapshot, or of the last one of this boot when the
 *    collect carries no storage section (an announcement alone), none before the first; a control
 *    domain's with `bootedAt`, `serves` and `guests` (the last known while `ldm` is not collected);
 * 5. `domain.going-down` for an `announce going-down`: each domain the host's own shutdown takes
 *    away (a control domain's own, while it runs a virtual disk service); nothing for a guest,
 *    which serves nothing.
 *
 * The SVM mirrors come from `metastat`, else from `metastat -c` (probes/metastat-compact.ts gives
 * the same reading; the long listing wins when both are sent). A collect carrying none of
 * `metastat`, `metastat-c`, `metadb` and `ldm-list` reads no storage; one carrying some reads the
 * missing ones as tools that failed (nothing from them), as the Node agent's scan does.
 */

/** The plan actions the sh agent runs (agent/sh/): the SVM runbook's, its probe included. */
export const SH_AGENT_CAPABILITIES: readonly PlanAction[] = [
  'disk.probe',
  'svm.metareplace',
  'svm.wait-sync',
  'svm.metadb-restore',
];

const RecordedServiceDomain = z.object({
  up: z.boolean(),
  seenAt: Rfc3339,
  uptimeSeconds: z.int().min(0).nullable(),
});

/** What the control plane remembers of a control domain between two collects. */
export const ControlMemory = z.object({
  serviceDomains: z.record(z.string(), RecordedServiceDomain),
  announcedBoot: z
    .object({
      bootKey: z.string().min(1).max(128),
      bootedAt: Rfc3339.optional(),
      announcedAt: Rfc3339,
      failureDomain: FailureDomain,
    })
    .optional(),
  /** Its own failure domains as last derived: what an announcement names when `ldm` is not collected. */
  ownDomains: z.array(FailureDomain).max(16).optional(),
  /** What its heartbeats say while `ldm` is not collected: the last look's. */
  serves: z.array(FailureDomain).max(64).optional(),
  guests: z.array(GuestDisk).max(4096).optional(),
});
export type ControlMemory = z.infer<typeof ControlMemory>;

/** What the control plane remembers of a host between two collects. */
export const HostMemory = z.object({
  /** Detection's state after the last collect of its boot (its `bootId`). */
  detection: DetectionState.optional(),
  control: ControlMemory.optional(),
});
export type HostMemory = z.infer<typeof HostMemory>;

export type CollectDrafts = {
  drafts: EventDraft[];
  /** What to remember for the next collect. */
  memory: HostMemory;
  /** What could not be read or said, one line each (for the answer and the logs). */
  notes: string[];
};

const MAX_NOTES = 50;

/** The drafts of one collect of `hostId` (see the module's comment). */
export const collectDrafts = (
  hostId: string,
  body: CollectBody,
  memory: HostMemory | undefined,
): CollectDrafts => {
  const { host, tools } = body;
  const now = new Date(host.time);
  const notes: string[] = [];
  const note = (text: string): void => {
    if (notes.length < MAX_NOTES) notes.push(text);
  };
  const drafts: EventDraft[] = body.progress.map((line) => ({
    type: 'command.progress',
    subject: hostId,
    planid: line.planId,
    data: {
      planId: line.planId,
      step: line.step,
      action: line.action,
      outcome: line.outcome,
      ...(line.branch === undefined ? {} : { branch: line.branch }),
      ...(line.code === undefined ? {} : { code: line.code }),
    },
  }));

  // Detection is per boot, as the Node agent's (agent/detect/detector.ts).
  const recorded = memory?.detection?.bootId === host.bootid ? memory.detection : undefined;
  let detection = recorded;
  let snapshot: HostSnapshot | undefined = recorded?.snapshot;
  const storage = [tools.metastat, tools['metastat-c'], tools.metadb, tools['ldm-list']].some(
    (text) => text !== undefined,
  );
  if (storage) {
    const scan = solarisSnapshot({
      hostId,
      bootId: host.bootid,
      platform: host.platform,
      role: host.role,
      takenAt: now.toISOString(),
      metastat: tools.metastat ?? null,
      metastatCompact: tools['metastat-c'] ?? null,
      metadb: tools.metadb ?? null,
      ldmList: tools['ldm-list'] ?? null,
    });
    for (const warning of scan.warnings) note(`${warning.source} line ${warning.line}: ${warning.reason}`);
    const changes = detectChanges(recorded, scan.snapshot, scan.progress);
    const planid = host.planid;
    drafts.push(
      ...changes.drafts.map((draft) =>
        planid === undefined || draft.planid !== undefined ? draft : { ...draft, planid },
      ),
    );
    detection = { ...changes.state, bootId: host.bootid };
    snapshot = scan.snapshot;
  }

  let control: ControlMemory | undefined = memory?.control;
  if (host.role === 'control') {
    const remembered: ControlMemory = memory?.control ?? { serviceDomains: {} };
    const ldmList = tools['ldm-list'];
    const ldmDisks = tools['ldm-disks'];
    if (ldmList !== undefined) {
      const look = controlLook({
        hostId,
        ldmList,
        ldmDisks: ldmDisks ?? null,
        services: ldmDisks === undefined ? [] : servicesOfDisks(ldmDisks),
        memory: remembered,
        boot: { bootKey: host.bootid, bootedAt: host.bootedAt },
        now,
      });
      for (const reason of look.unplaced) note(`guest disk not reported: ${reason}`);
      drafts.push(...look.drafts);
      const guests = look.guests ?? remembered.guests;
      control = {
        serviceDomains: { ...look.memory.serviceDomains },
        ...(look.memory.announcedBoot === undefined ? {} : { announcedBoot: look.memory.announcedBoot }),
        ownDomains: look.ownDomains,
        serves: look.serves,
        ...(guests === undefined ? {} : { guests }),
      };
    } else {
      control = remembered;
      note('no ldm-list section: the service domains were not looked at');
    }
  }

  if (snapshot !== undefined) {
    drafts.push(
      heartbeatOf(snapshot, {
        platform: host.platform,
        role: host.role,
        agentVersion: host.agentVersion,
        intervalSeconds: host.intervalSeconds,
        capabilities: host.capabilities ?? SH_AGENT_CAPABILITIES,
        ...(host.role === 'control'
          ? { server: { bootedAt: host.bootedAt, serves: control?.serves ?? [], guests: control?.guests } }
          : {}),
      }),
    );
  } else {
    note('no heartbeat: no storage section collected yet in this boot');
  }

  if (body.announce !== undefined) {
    const own = ownDomainsOf(hostId, body, control);
    if (own.domains.length === 0) note(`nothing to announce: ${own.reason}`);
    for (const failureDomain of own.domains) {
      drafts.push({
        type: 'domain.going-down',
        subject: hostId,
        data: {
          failureDomain,
          ...(body.announce.reason === undefined ? {} : { reason: body.announce.reason }),
        },
      });
    }
  }

  return {
    drafts,
    memory: {
      ...(detection === undefined ? {} : { detection }),
      ...(control === undefined ? {} : { control }),
    },
    notes,
  };
};

/** What an announcement names: a control domain's own domains, as `announce going-down` on a Node agent. */
const ownDomainsOf = (
  hostId: string,
  body: CollectBody,
  control: ControlMemory | undefined,
): { domains: string[]; reason: string } => {
  if (body.host.role !== 'control') {
    return { domains: [], reason: `this host (role ${body.host.role}) serves no failure domain` };
  }
  const ldmDisks = body.tools['ldm-disks'];
  if (ldmDisks !== undefined) {
    const own = controlOwnDomains({
      hostId,
      ldmList: body.tools['ldm-list'] ?? null,
      services: servicesOfDisks(ldmDisks),
    });
    return { domains: own.domains, reason: own.reason ?? '' };
  }
  if (control?.ownDomains !== undefined)
    return control.ownDomains.length > 0
      ? { domains: control.ownDomains, reason: '' }
      : { domains: [], reason: 'the control domain runs no virtual disk service' };
  return { domains: [], reason: 'no ldm-disks section and no earlier collect said what this domain serves' };
};
