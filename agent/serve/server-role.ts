import type { GuestDisk } from '../../events/index.ts';
import type { DraftOf, EventDraft } from '../../probes/event-draft.ts';

/**
 * The server side of the agent (docs/architecture.md §3 "Who says a server is down or back"): a
 * host of role `hosting` (a VIOS or IBM i hosting partition) or `control` (an LDoms control
 * domain) says itself when it serves again, what it serves, and, before a planned shutdown, that
 * it goes down. The loop runs `check` every `intervals.serverCheckSeconds`, spools the drafts it
 * returns, then calls `commit` (so a crash between the two announces again, never loses it), and
 * puts the report in its heartbeats.
 */

/** What a server's heartbeats carry beside its storage (§3 `bootedAt`, `serves`, `guests`). */
export type ServerReport = {
  /** The kernel's boot time. */
  bootedAt?: string;
  /** The failure domains it serves now: those whose serving check passed. */
  serves: string[];
  /** A control domain's guests' disks and the service domain behind each. */
  guests?: GuestDisk[];
};

export type ServerCheck = {
  /** Announcements to spool now (`ipl.completed`, `domain.rebooted`, `domain.going-down`). */
  drafts: EventDraft[];
  report: ServerReport;
  /** Records what was announced; called once the drafts are spooled. */
  commit: () => void;
};

/** The domains a planned shutdown of this host takes away, or why it names none. */
export type OwnDomains = { domains: string[]; reason?: string };

export interface ServerRole {
  readonly role: 'hosting' | 'control';
  check(now: Date): Promise<ServerCheck>;
  /** What `announce going-down` names: the domains this host's own shutdown takes away. */
  ownDomains(now: Date): Promise<OwnDomains>;
}

/** `domain.going-down` for each domain; the subject is the host (a host-wide announcement). */
export const goingDownDrafts = (
  hostId: string,
  domains: readonly string[],
  reason: string | undefined,
): DraftOf<'domain.going-down'>[] =>
  domains.map((failureDomain) => ({
    type: 'domain.going-down',
    subject: hostId,
    data: { failureDomain, ...(reason === undefined || reason === '' ? {} : { reason }) },
  }));
