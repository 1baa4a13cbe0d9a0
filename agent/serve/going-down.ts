import type { HostRole } from '../../events/index.ts';
import type { EventSink } from '../detect/event-sink.ts';
import type { AnnouncementTracker, AnnounceResult } from './announce-requests.ts';
import { goingDownDrafts, type ServerRole } from './server-role.ts';

/**
 * Spools `domain.going-down` for every domain this host's own shutdown takes away (a hosting
 * partition's, a control domain's own) and starts following their delivery. The same for the
 * running agent answering an `announce` request and for `announce` when no agent runs.
 */
export const spoolGoingDown = async (context: {
  id: string;
  role: HostRole;
  hostId: string;
  server: ServerRole | undefined;
  sink: EventSink;
  reason: string | undefined;
  now: Date;
  tracker: AnnouncementTracker;
  where: { directory: string | undefined; spool: string; target: string };
}): Promise<AnnounceResult> => {
  const { id, server, now } = context;
  const nothing = (detail: string): AnnounceResult => ({
    id,
    outcome: 'nothing',
    events: [],
    detail,
    updatedAt: now.toISOString(),
  });
  if (server === undefined) return nothing(`this host (role ${context.role}) serves no failure domain`);
  const own = await server.ownDomains(now);
  if (own.domains.length === 0) return nothing(own.reason ?? 'this host serves no failure domain');
  const events = context.sink.emit(goingDownDrafts(context.hostId, own.domains, context.reason));
  if (events.length !== own.domains.length) {
    return {
      id,
      outcome: 'failed',
      events: [],
      detail: 'the announcement does not satisfy the event contract (see the log)',
      updatedAt: now.toISOString(),
    };
  }
  return context.tracker.watch(id, events, own.domains, context.where);
};
