import type { Context } from 'hono';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import {
  type IncidentBody,
  IncidentDetailBody,
  IncidentList,
  PlansResponse,
  ServiceHealth,
  StatsBody,
  type TimelineEntryBody,
  TopologyBody,
} from '../events/index.ts';
import { ApiAnswerError, ApiClient, type ApiRequest } from './api-client.ts';
import { REFRESH_SCRIPT, STYLESHEET } from './assets.ts';
import { type Fragment, page, type Shell } from './layout.ts';
import {
  csrfTokenOf,
  flashQuery,
  isCsrfTokenOf,
  isFlashOf,
  isSameOrigin,
  SESSION_COOKIE,
  SESSION_SECONDS,
} from './session.ts';
import {
  continueView,
  errorView,
  hostView,
  incidentListView,
  incidentView,
  type ListFilters,
  signInView,
  statsView,
  topologyView,
} from './views.ts';

/**
 * The operator's web page (docs/architecture.md §6 "The web page"): a Hono sub-app the API mounts
 * at `/`, the same locally and behind the HTTP API. Server-rendered HTML that works without
 * JavaScript (one small script only refreshes the pages that ask for it), no CDN, nothing to build.
 *
 * - Reads and actions go through the API in this process (./api-client.ts) with the signed-in
 *   operator's token, so the page grants nothing the API would not.
 * - Signing in takes an operator token and keeps it in an HttpOnly, SameSite=Strict cookie
 *   (./session.ts); an agent's token is refused. Every form that changes something carries the
 *   session's CSRF token and must come from this origin; without both it is refused (403).
 * - Actions (approve, resolve, pause, resume, maintenance) are queued operator commands: the page
 *   redirects back with a line saying so, and the timeline shows them once correlate applied them.
 */

export interface WebDeps {
  /** The HTTP API, in this process. */
  readonly api: ApiRequest;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
}

/** Incidents per page of the list. */
const LIST_PAGE = 50;
/** Timeline entries and affected hosts per page of an incident. */
const DETAIL_PAGE = 100;
/** Timeline entries read for the chart: up to this many pages of 1,000. */
const CHART_PAGES = 20;
/** How often the list and an open incident's page refresh themselves (seconds). */
const REFRESH_SECONDS = 10;
/** The window of the time-to-heal chart. */
const STATS_DAYS = 30;
/** The largest form the page takes (a token, a CSRF token, a few fields): it is read before anything else. */
const MAX_FORM_BYTES = 16 * 1024;

/**
 * An incident with its timeline read page by page (1,000 entries each) up to {@link CHART_PAGES}
 * pages: what the chart draws and a host's page filters. `partly`: the timeline goes on past them.
 */
const wholeTimeline = async (
  client: ApiClient,
  path: string,
): Promise<{ incident: IncidentBody; entries: TimelineEntryBody[]; partly: boolean }> => {
  const first = await client.get(IncidentDetailBody, `${path}?limit=1000`);
  const entries = [...first.timeline.items];
  let next = first.timeline.cursor;
  for (let pages = 1; next !== null && pages < CHART_PAGES; pages += 1) {
    const more = await client.get(
      IncidentDetailBody,
      `${path}?limit=1000&timelineCursor=${encodeURIComponent(next)}`,
    );
    entries.push(...more.timeline.items);
    next = more.timeline.cursor;
  }
  return { incident: first.incident, entries, partly: next !== null };
};

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

const DATETIME_LOCAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?$/;

/** A `datetime-local` value read as UTC, as the API's RFC 3339; undefined when empty or malformed. */
const utc = (value: string | undefined): string | undefined =>
  value !== undefined && DATETIME_LOCAL.test(value)
    ? `${value.length === 16 ? `${value}:00` : value}Z`
    : undefined;

/**
 * A path of this page to go back to after signing in: only a path of this site, as a browser
 * would read it (it drops tabs and new lines, and reads `\` as `/`), else the list.
 */
const localPath = (value: string | undefined): string => {
  if (value === undefined || !value.startsWith('/') || /[\p{Cc}\\]/u.test(value)) return '/';
  try {
    const base = new URL('http://page.invalid/');
    const resolved = new URL(value, base);
    return resolved.origin === base.origin ? `${resolved.pathname}${resolved.search}` : '/';
  } catch {
    return '/';
  }
};

const isHttps = (c: Context): boolean =>
  c.req.header('x-forwarded-proto') === 'https' || new URL(c.req.url).protocol === 'https:';

export const createWebApp = (deps: WebDeps): Hono => {
  const now = deps.now ?? Date.now;
  const web = new Hono();

  const respond = (c: Context, body: Fragment, status: 200 | 400 | 401 | 403 | 404 | 413 | 502 = 200) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
    return c.html(body, status);
  };

  const formLimit = bodyLimit({
    maxSize: MAX_FORM_BYTES,
    onError: (c) =>
      respond(
        c,
        page(
          { title: 'Refused', current: undefined, paused: undefined, csrf: undefined },
          errorView('Refused', `A form of this page is at most ${MAX_FORM_BYTES} bytes.`),
        ),
        413,
      ),
  });

  const session = (c: Context): string | undefined => {
    const token = getCookie(c, SESSION_COOKIE);
    return token === undefined || token.length === 0 || token.length > 512 ? undefined : token;
  };

  const toSignIn = (c: Context) => {
    const next = `${new URL(c.req.url).pathname}${new URL(c.req.url).search}`;
    // A link followed from another site (a page in PagerDuty or Slack) comes without the
    // SameSite=Strict cookie even when signed in: one click on this site's own link sends it.
    if (c.req.method === 'GET' && c.req.header('sec-fetch-site') === 'cross-site') {
      return respond(
        c,
        page(
          { title: 'Continue', current: undefined, paused: undefined, csrf: undefined },
          continueView(localPath(next)),
        ),
      );
    }
    return c.redirect(`/sign-in?next=${encodeURIComponent(next)}`, 303);
  };

  /** Renders a signed-in page: the header needs the pause state, read once per page. */
  const render = async (
    c: Context,
    token: string,
    shell: Omit<Shell, 'paused' | 'csrf'>,
    body: (csrf: string) => Fragment,
  ) => {
    const client = new ApiClient(deps.api, token);
    const health = await client.get(ServiceHealth, '/v1/health');
    // A line about the last action, shown only if this session's own redirect made it: a link
    // crafted elsewhere cannot put words on the page.
    const said = c.req.query('said');
    const error = c.req.query('error') === '1';
    const flash =
      said !== undefined && isFlashOf(token, said, error, c.req.query('seal'))
        ? { text: said, error }
        : shell.flash;
    const csrf = csrfTokenOf(token);
    return respond(c, page({ ...shell, flash, paused: health.paused ?? false, csrf }, body(csrf)));
  };

  /** What a page does with a refusal of the API: sign in again, or say what went wrong. */
  const failure = (c: Context, error: unknown, title: string) => {
    if (error instanceof ApiAnswerError) {
      if (error.status === 401 || error.status === 403) {
        deleteCookie(c, SESSION_COOKIE, { path: '/' });
        return toSignIn(c);
      }
      const status = error.status === 404 ? 404 : error.status === 400 ? 400 : 502;
      return respond(
        c,
        page(
          { title, current: undefined, paused: undefined, csrf: undefined },
          errorView(title, error.message),
        ),
        status,
      );
    }
    throw error;
  };

  web.get('/assets/faultline.css', (c) => {
    c.header('Cache-Control', 'public, max-age=3600');
    c.header('X-Content-Type-Options', 'nosniff');
    return c.body(STYLESHEET, 200, { 'Content-Type': 'text/css; charset=utf-8' });
  });
  web.get('/assets/refresh.js', (c) => {
    c.header('Cache-Control', 'public, max-age=3600');
    c.header('X-Content-Type-Options', 'nosniff');
    return c.body(REFRESH_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });

  web.get('/sign-in', (c) =>
    respond(
      c,
      page(
        { title: 'Sign in', current: undefined, paused: undefined, csrf: undefined },
        signInView(undefined, localPath(c.req.query('next'))),
      ),
    ),
  );

  web.post('/sign-in', formLimit, async (c) => {
    const form = await c.req.parseBody();
    const next = localPath(typeof form.next === 'string' ? form.next : undefined);
    const again = (message: string, status: 400 | 401 | 403) =>
      respond(
        c,
        page(
          { title: 'Sign in', current: undefined, paused: undefined, csrf: undefined },
          signInView(message, next),
        ),
        status,
      );
    if (!sameOrigin(c)) return again('This form was sent from another site.', 403);
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    if (token.length === 0) return again('Paste a token.', 400);
    try {
      // An operator-only read: an agent's token gets 403, an unknown one 401.
      await new ApiClient(deps.api, token).get(IncidentList, '/v1/incidents?limit=1');
    } catch (error) {
      if (error instanceof ApiAnswerError && error.status === 403)
        return again("This is an agent's token: only an operator token may sign in.", 403);
      if (error instanceof ApiAnswerError && (error.status === 401 || error.status === 400))
        return again('This token is not known.', 401);
      throw error;
    }
    setCookie(c, SESSION_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'Strict',
      secure: isHttps(c),
      maxAge: SESSION_SECONDS,
    });
    return c.redirect(next, 303);
  });

  const sameOrigin = (c: Context): boolean =>
    isSameOrigin({
      secFetchSite: c.req.header('sec-fetch-site'),
      origin: c.req.header('origin'),
      host: c.req.header('host') ?? new URL(c.req.url).host,
    });

  /**
   * A form that changes something: signed in, with the session's CSRF token, from this origin.
   * Answers the session's token and the form, or the refusal.
   */
  const acting = async (
    c: Context,
  ): Promise<{ token: string; form: Record<string, string> } | { refused: Response | Promise<Response> }> => {
    const token = session(c);
    if (token === undefined) return { refused: toSignIn(c) };
    const raw = await c.req.parseBody();
    const form: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw)) if (typeof value === 'string') form[key] = value;
    if (!isCsrfTokenOf(token, form.csrf) || !sameOrigin(c)) {
      return {
        refused: respond(
          c,
          page(
            { title: 'Refused', current: undefined, paused: undefined, csrf: undefined },
            errorView(
              'Refused',
              'This form did not carry this session’s CSRF token, or came from another site. Nothing was done.',
            ),
          ),
          403,
        ),
      };
    }
    return { token, form };
  };

  /** Queues an operator's command, then goes back with a line saying what became of it. */
  const command = async (
    c: Context,
    back: string,
    send: (client: ApiClient, form: Record<string, string>) => Promise<void>,
    done: string,
  ) => {
    const acted = await acting(c);
    if ('refused' in acted) return acted.refused;
    const target = localPath(acted.form.back ?? back);
    const separator = target.includes('?') ? '&' : '?';
    try {
      await send(new ApiClient(deps.api, acted.token), acted.form);
    } catch (error) {
      if (error instanceof ApiAnswerError && error.status !== 401 && error.status !== 403) {
        return c.redirect(`${target}${separator}${flashQuery(acted.token, error.message, true)}`, 303);
      }
      return failure(c, error, 'Refused');
    }
    return c.redirect(`${target}${separator}${flashQuery(acted.token, done, false)}`, 303);
  };

  web.post('/sign-out', formLimit, async (c) => {
    const acted = await acting(c);
    if ('refused' in acted) return acted.refused;
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: isHttps(c) });
    return c.redirect('/sign-in', 303);
  });

  web.post('/control/pause', formLimit, (c) =>
    command(
      c,
      '/',
      (client) => client.send('POST', '/v1/control/pause', {}),
      'Pause queued: no new plan goes out until you resume.',
    ),
  );
  web.post('/control/resume', formLimit, (c) =>
    command(
      c,
      '/',
      (client, form) =>
        client.send(
          'POST',
          '/v1/control/resume',
          form.failureDomain === undefined || form.failureDomain === ''
            ? {}
            : { failureDomain: form.failureDomain },
        ),
      'Resume queued.',
    ),
  );
  web.post('/maintenance', formLimit, (c) =>
    command(
      c,
      '/',
      (client, form) =>
        client.send(
          'PUT',
          `/v1/maintenance/${encodeURIComponent(form.kind ?? '')}/${encodeURIComponent(form.id ?? '')}`,
          { on: form.on === 'true' },
        ),
      'Maintenance change queued.',
    ),
  );
  web.post('/incidents/:id/approve', formLimit, (c) => {
    const id = c.req.param('id');
    return command(
      c,
      `/incidents/${encodeURIComponent(id)}`,
      (client) => client.send('POST', `/v1/incidents/${encodeURIComponent(id)}/approve`, {}),
      'Approval queued: the next wave goes out once correlate applies it.',
    );
  });
  web.post('/incidents/:id/resolve', formLimit, (c) => {
    const id = c.req.param('id');
    return command(
      c,
      `/incidents/${encodeURIComponent(id)}`,
      (client) => client.send('POST', `/v1/incidents/${encodeURIComponent(id)}/resolve`, {}),
      'Resolve queued.',
    );
  });

  web.get('/', async (c) => {
    const token = session(c);
    if (token === undefined) return toSignIn(c);
    const filters: ListFilters = {
      status: c.req.query('status') || undefined,
      domain: c.req.query('domain') || undefined,
      host: c.req.query('host') || undefined,
      since: c.req.query('since') || undefined,
      until: c.req.query('until') || undefined,
    };
    const cursor = c.req.query('cursor') || undefined;
    const query = new URLSearchParams({ limit: String(LIST_PAGE) });
    if (filters.status !== undefined) query.set('status', filters.status);
    if (filters.domain !== undefined) query.set('domain', filters.domain);
    if (filters.host !== undefined) query.set('host', filters.host);
    const since = utc(filters.since);
    const until = utc(filters.until);
    const unread = [
      ...(filters.since !== undefined && since === undefined ? ['since'] : []),
      ...(filters.until !== undefined && until === undefined ? ['until'] : []),
    ];
    if (since !== undefined) query.set('since', since);
    if (until !== undefined) query.set('until', until);
    if (cursor !== undefined) query.set('cursor', cursor);
    try {
      const list = await new ApiClient(deps.api, token).get(IncidentList, `/v1/incidents?${query}`);
      return await render(
        c,
        token,
        {
          title: 'Incidents',
          current: 'incidents',
          refreshSeconds: cursor === undefined ? REFRESH_SECONDS : undefined,
          flash:
            unread.length === 0
              ? undefined
              : {
                  text: `Not filtered by ${unread.join(' or ')}: a time is YYYY-MM-DDTHH:MM, in UTC.`,
                  error: true,
                },
        },
        () => incidentListView(list, filters, cursor !== undefined),
      );
    } catch (error) {
      return failure(c, error, 'Incidents');
    }
  });

  web.get('/incidents/:id', async (c) => {
    const token = session(c);
    if (token === undefined) return toSignIn(c);
    const id = c.req.param('id');
    const timelineCursor = c.req.query('timeline') || undefined;
    const hostsCursor = c.req.query('hosts') || undefined;
    const client = new ApiClient(deps.api, token);
    const path = `/v1/incidents/${encodeURIComponent(id)}`;
    try {
      const { incident, entries: drawn, partly } = await wholeTimeline(client, path);
      const listing = new URLSearchParams({ limit: String(DETAIL_PAGE) });
      if (timelineCursor !== undefined) listing.set('timelineCursor', timelineCursor);
      if (hostsCursor !== undefined) listing.set('hostsCursor', hostsCursor);
      const shown = await client.get(IncidentDetailBody, `${path}?${listing}`);
      return await render(
        c,
        token,
        {
          title: incident.summary,
          current: 'incidents',
          refreshSeconds:
            incident.status !== 'resolved' && timelineCursor === undefined && hostsCursor === undefined
              ? REFRESH_SECONDS
              : undefined,
        },
        (csrf) =>
          incidentView({
            incident,
            drawn,
            drawnPartly: partly,
            timeline: shown.timeline,
            hosts: shown.affectedHosts,
            timelineCursor,
            hostsCursor,
            now: now(),
            csrf,
          }),
      );
    } catch (error) {
      return failure(c, error, 'Incident');
    }
  });

  web.get('/incidents/:id/hosts/:hostId', async (c) => {
    const token = session(c);
    if (token === undefined) return toSignIn(c);
    const id = c.req.param('id');
    const hostId = c.req.param('hostId');
    const client = new ApiClient(deps.api, token);
    const path = `/v1/incidents/${encodeURIComponent(id)}`;
    try {
      const { incident, entries } = await wholeTimeline(client, path);
      const plans = await client.get(PlansResponse, `/v1/agents/${encodeURIComponent(hostId)}/plans`);
      return await render(c, token, { title: `${hostId} in ${id}`, current: 'incidents' }, () =>
        hostView(
          incident,
          hostId,
          entries.filter((entry) => entry.hostId === hostId),
          plans.plans.filter((plan) => plan.incidentId === id),
        ),
      );
    } catch (error) {
      return failure(c, error, 'Host');
    }
  });

  web.get('/stats', async (c) => {
    const token = session(c);
    if (token === undefined) return toSignIn(c);
    const since = new Date(now() - STATS_DAYS * 86_400_000).toISOString();
    try {
      const stats = await new ApiClient(deps.api, token).get(
        StatsBody,
        `/v1/stats?since=${encodeURIComponent(since)}`,
      );
      return await render(c, token, { title: 'Time to heal', current: 'stats' }, () =>
        statsView(stats, STATS_DAYS),
      );
    } catch (error) {
      return failure(c, error, 'Time to heal');
    }
  });

  web.get('/topology', async (c) => {
    const token = session(c);
    if (token === undefined) return toSignIn(c);
    const domain = c.req.query('domain') || undefined;
    const cursor = c.req.query('cursor') || undefined;
    const query = new URLSearchParams({ limit: String(DETAIL_PAGE) });
    if (domain !== undefined) query.set('domain', domain);
    if (cursor !== undefined) query.set('cursor', cursor);
    try {
      const topology = await new ApiClient(deps.api, token).get(TopologyBody, `/v1/topology?${query}`);
      return await render(c, token, { title: 'Topology', current: 'topology' }, () =>
        topologyView(topology, domain, cursor !== undefined),
      );
    } catch (error) {
      return failure(c, error, 'Topology');
    }
  });

  return web;
};
