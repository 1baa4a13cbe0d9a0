import { html } from 'hono/html';
import {
  type AffectedHostBody,
  type IncidentBody,
  type IncidentList,
  incidentDurations,
  type Plan,
  type StatsBody,
  type TimelineEntryBody,
  type TopologyBody,
} from '../events/index.ts';
import { formatDuration, healChart, momentsOf, timelineChart } from './charts.ts';
import { actionForm, type Fragment, statusBadge } from './layout.ts';

/**
 * The pages' bodies, from what the API answered: the incident list with its filters and pager, one
 * incident (its facts, its timeline drawn and listed, its hosts, the operator's actions), one
 * host's part in an incident, time to detect and heal per domain, the topology, and sign-in.
 * Pure: data in, escaped HTML out.
 */

const STATUSES = ['open', 'awaiting-recovery', 'remediating', 'halted', 'resolved'] as const;

/** A time as an operator reads it: UTC, to the second. */
export const when = (time: string | null | undefined): string =>
  time === null || time === undefined ? '—' : `${time.slice(0, 10)} ${time.slice(11, 19)} UTC`;

/** The filters of the incident list, as the form holds them. */
export interface ListFilters {
  readonly status?: string | undefined;
  readonly domain?: string | undefined;
  readonly host?: string | undefined;
  /** `YYYY-MM-DDTHH:MM` (a `datetime-local` field, read as UTC). */
  readonly since?: string | undefined;
  readonly until?: string | undefined;
}

/** The query string of the list's filters, with a cursor when given. */
export const listQuery = (filters: ListFilters, cursor?: string): string => {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
  if (cursor !== undefined) query.set('cursor', cursor);
  const text = query.toString();
  return text === '' ? '/' : `/?${text}`;
};

const field = (name: string, label: string, value: string | undefined, type = 'text', hint = ''): Fragment =>
  html`<label for="f-${name}">${label}<input id="f-${name}" name="${name}" type="${type}" value="${value ?? ''}"${
    hint === '' ? '' : html` placeholder="${hint}"`
  }></label>`;

export const incidentListView = (
  list: IncidentList,
  filters: ListFilters,
  paged: boolean,
): Fragment => html`<h1>Incidents</h1>
<form class="filters" method="get" action="/" role="search" aria-label="Filter incidents">
<label for="f-status">Status<select id="f-status" name="status"><option value="">any</option>${STATUSES.map(
  (status) =>
    html`<option value="${status}"${status === filters.status ? ' selected' : ''}>${status}</option>`,
)}</select></label>
${field('domain', 'Failure domain', filters.domain, 'text', 'vscsi:<system>/vios2')}
${field('host', 'Host', filters.host)}
${field('since', 'Opened since (UTC)', filters.since, 'datetime-local')}
${field('until', 'Opened until (UTC)', filters.until, 'datetime-local')}
<button type="submit" class="primary">Filter</button> <a href="/">Clear</a>
</form>
${
  list.incidents.length === 0
    ? html`<p>No incident matches.</p>`
    : html`<table>
<caption>${list.incidents.length} incident${list.incidents.length === 1 ? '' : 's'} on this page, newest first</caption>
<thead><tr><th scope="col">Status</th><th scope="col">Incident</th><th scope="col">Kind</th><th scope="col">Failure domain</th><th scope="col">Hosts</th><th scope="col">Opened</th><th scope="col">Resolved</th></tr></thead>
<tbody>${list.incidents.map(
        (
          incident,
        ) => html`<tr><td>${statusBadge(incident.status)}${incident.escalated ? html` <span class="status s-halted">escalated</span>` : ''}</td>
<td><a href="/incidents/${encodeURIComponent(incident.id)}">${incident.summary}</a><br><span class="muted">${incident.id}</span></td>
<td>${incident.kind}</td><td>${incident.failureDomain}</td><td>${incident.affectedHosts}</td><td>${when(incident.openedAt)}</td><td>${when(incident.resolvedAt)}</td></tr>`,
      )}</tbody></table>`
}
<nav class="pager" aria-label="Pages of incidents">${paged ? html`<a href="${listQuery(filters)}">First page</a>` : ''}${
  list.cursor === null ? '' : html`<a href="${listQuery(filters, list.cursor)}" rel="next">Next page</a>`
}</nav>`;

/** What the incident page shows beyond the incident: its timeline (drawn whole) and a page of each listing. */
export interface IncidentPage {
  readonly incident: IncidentBody;
  /** Every timeline entry read for the chart (up to a bound). */
  readonly drawn: readonly TimelineEntryBody[];
  /** Whether the chart's entries stop short of the whole timeline. */
  readonly drawnPartly: boolean;
  readonly timeline: { readonly items: readonly TimelineEntryBody[]; readonly cursor: string | null };
  readonly hosts: { readonly items: readonly AffectedHostBody[]; readonly cursor: string | null };
  /** The cursors this page was asked for (to offer the first page back). */
  readonly timelineCursor: string | undefined;
  readonly hostsCursor: string | undefined;
  readonly now: number;
  readonly csrf: string;
}

const incidentHref = (id: string, query: Record<string, string | undefined> = {}): string => {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, value);
  const text = params.toString();
  return `/incidents/${encodeURIComponent(id)}${text === '' ? '' : `?${text}`}`;
};

const actions = (incident: IncidentBody, csrf: string): Fragment => {
  if (incident.status === 'resolved') return html`<p class="muted">Resolved: nothing left to act on.</p>`;
  const id = encodeURIComponent(incident.id);
  const domain = incident.failureDomain;
  return html`<section aria-labelledby="actions-h"><h2 id="actions-h">Act</h2>
${incident.kind === 'outage' ? actionForm(`/incidents/${id}/approve`, csrf, 'Approve the next wave', { style: 'primary' }) : ''}
${incident.status === 'halted' ? actionForm('/control/resume', csrf, `Lift the halt of ${domain}`, { fields: html`<input type="hidden" name="failureDomain" value="${domain}">`, style: 'primary' }) : ''}
${actionForm('/maintenance', csrf, 'Set maintenance', {
  fields: html`<input type="hidden" name="kind" value="domain"><input type="hidden" name="id" value="${domain}"><input type="hidden" name="back" value="${incidentHref(incident.id)}"><label for="maintenance-on">Maintenance of ${domain}<select id="maintenance-on" name="on"><option value="true">on: no plans, no pages</option><option value="false">off</option></select></label>`,
})}
${actionForm(`/incidents/${id}/resolve`, csrf, 'Resolve by hand', { style: 'danger' })}
<p class="muted">Each action is queued for the control plane and shows in the timeline once applied.</p>
</section>`;
};

export const incidentView = (view: IncidentPage): Fragment => {
  const { incident } = view;
  const moments = momentsOf(view.drawn);
  // The same figures `GET /v1/stats` (and so the time-to-heal page) averages.
  const durations = incidentDurations(incident);
  const detect = durations.detect ?? null;
  const heal = durations.heal ?? null;
  return html`<h1>${incident.summary}</h1>
<dl class="facts">
<dt>Status</dt><dd>${statusBadge(incident.status)}${incident.escalated ? html` <span class="status s-halted">escalated</span>` : ''}${incident.paged ? ' (paged)' : ''}</dd>
<dt>Incident</dt><dd>${incident.id} (${incident.kind})</dd>
<dt>Failure domain</dt><dd>${incident.failureDomain}</dd>
${incident.hostId === undefined ? '' : html`<dt>Host</dt><dd>${incident.hostId}${incident.resource === undefined ? '' : ` (${incident.resource})`}</dd>`}
<dt>Affected hosts</dt><dd>${incident.affectedHosts}</dd>
<dt>Down</dt><dd>${when(incident.downAt)}</dd>
<dt>Up</dt><dd>${when(incident.upAt)}</dd>
<dt>Opened</dt><dd>${when(incident.openedAt)}</dd>
<dt>Resolved</dt><dd>${when(incident.resolvedAt)}</dd>
<dt>Time to detect</dt><dd>${formatDuration(detect)}</dd>
<dt>Time to heal</dt><dd>${formatDuration(heal)}</dd>
</dl>
${actions(incident, view.csrf)}
<section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2>
${timelineChart(incident, view.drawn, view.now)}
${view.drawnPartly ? html`<p class="muted">The chart shows the first ${view.drawn.length} entries of the timeline.</p>` : ''}
<table><caption>Key moments</caption><thead><tr><th scope="col">When</th><th scope="col">What</th></tr></thead>
<tbody>${moments.map((moment) => html`<tr><td class="when">${when(new Date(moment.at).toISOString())}</td><td>${moment.label}</td></tr>`)}</tbody></table>
<h3>Every entry</h3>
<table><caption>Timeline entries, oldest first</caption><thead><tr><th scope="col">When</th><th scope="col">Host</th><th scope="col">What</th></tr></thead>
<tbody>${view.timeline.items.map(
    (entry) =>
      html`<tr><td class="when">${when(entry.at)}</td><td class="host">${entry.hostId === undefined ? '' : html`<a href="/incidents/${encodeURIComponent(incident.id)}/hosts/${encodeURIComponent(entry.hostId)}">${entry.hostId}</a>`}</td><td>${entry.text}</td></tr>`,
  )}</tbody></table>
<nav class="pager" aria-label="Pages of the timeline">${
    view.timelineCursor === undefined
      ? ''
      : html`<a href="${incidentHref(incident.id, { hosts: view.hostsCursor })}">First entries</a>`
  }${
    view.timeline.cursor === null
      ? ''
      : html`<a href="${incidentHref(incident.id, { timeline: view.timeline.cursor, hosts: view.hostsCursor })}">Next entries</a>`
  }</nav>
</section>
<section aria-labelledby="hosts-h"><h2 id="hosts-h">Affected hosts</h2>
${
  view.hosts.items.length === 0
    ? html`<p>No host listed.</p>`
    : html`<table><caption>Hosts and their plans</caption><thead><tr><th scope="col">Host</th><th scope="col">Status</th><th scope="col">Joined</th><th scope="col">Attempt</th><th scope="col">Plan</th><th scope="col">Why</th></tr></thead>
<tbody>${view.hosts.items.map(
        (host) =>
          html`<tr><td><a href="/incidents/${encodeURIComponent(incident.id)}/hosts/${encodeURIComponent(host.hostId)}">${host.hostId}</a></td><td>${statusBadge(host.status)}</td><td>${when(host.joinedAt)}</td><td>${host.attempt}</td><td>${host.planId ?? '—'}</td><td>${host.reason ?? ''}</td></tr>`,
      )}</tbody></table>`
}
<nav class="pager" aria-label="Pages of affected hosts">${
    view.hostsCursor === undefined
      ? ''
      : html`<a href="${incidentHref(incident.id, { timeline: view.timelineCursor })}">First hosts</a>`
  }${
    view.hosts.cursor === null
      ? ''
      : html`<a href="${incidentHref(incident.id, { timeline: view.timelineCursor, hosts: view.hosts.cursor })}">Next hosts</a>`
  }</nav>
</section>`;
};

/** One host's part in an incident: its entries of the timeline, and its plans waiting to run, step by step. */
export const hostView = (
  incident: IncidentBody,
  hostId: string,
  entries: readonly TimelineEntryBody[],
  plans: readonly Plan[],
): Fragment => html`<h1>${hostId} in ${incident.summary}</h1>
<p><a href="/incidents/${encodeURIComponent(incident.id)}">Back to the incident</a></p>
<h2>Its timeline</h2>
${
  entries.length === 0
    ? html`<p>No entry names this host.</p>`
    : html`<table><caption>Entries of ${incident.id} about ${hostId}</caption><thead><tr><th scope="col">When</th><th scope="col">What</th></tr></thead><tbody>${entries.map(
        (entry) => html`<tr><td>${when(entry.at)}</td><td>${entry.text}</td></tr>`,
      )}</tbody></table>`
}
<h2>Plans waiting for it</h2>
${
  plans.length === 0
    ? html`<p>None now: its plans have run, expired or were never issued (the timeline says which).</p>`
    : plans.map(
        (plan) => html`<h3>Plan ${plan.id} (${plan.mode}, attempt ${plan.attempt})</h3>
<p>Issued ${when(plan.issuedAt)}, valid ${plan.ttlSeconds} s.</p>
<ol>${plan.steps.map(
          (step) =>
            html`<li><code>${step.action}</code> ${Object.entries(step)
              .filter(([key]) => key !== 'action')
              .map(
                ([key, value]) =>
                  `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`,
              )
              .join(' ')}</li>`,
        )}</ol>`,
      )
}`;

export const statsView = (
  stats: StatsBody,
  days: number,
): Fragment => html`<h1>Time to detect and time to heal</h1>
<p>Incidents opened in the last ${days} days: ${stats.incidents}. Mean time to detect ${formatDuration(
  stats.timeToDetect.meanSeconds,
)}, to heal ${formatDuration(stats.timeToHeal.meanSeconds)}.</p>
${healChart(stats.byDomain)}
<table><caption>By failure domain</caption><thead><tr><th scope="col">Failure domain</th><th scope="col">Incidents</th><th scope="col">Open</th><th scope="col">Hosts</th><th scope="col">Mean to detect</th><th scope="col">Mean to heal</th><th scope="col">Longest heal</th></tr></thead>
<tbody>${stats.byDomain.map(
  (row) =>
    html`<tr><td><a href="/?domain=${encodeURIComponent(row.failureDomain)}">${row.failureDomain}</a></td><td>${row.incidents}</td><td>${row.open}</td><td>${row.affectedHosts}</td><td>${formatDuration(row.timeToDetect.meanSeconds)}</td><td>${formatDuration(row.timeToHeal.meanSeconds)}</td><td>${formatDuration(row.timeToHeal.maxSeconds)}</td></tr>`,
)}</tbody></table>`;

export const topologyView = (
  topology: TopologyBody,
  domain: string | undefined,
  paged: boolean,
): Fragment => html`<h1>Topology${domain === undefined ? '' : html` of ${domain}`}</h1>
<form class="filters" method="get" action="/topology" role="search" aria-label="Hosts depending on a domain">
${field('domain', 'Failure domain', domain, 'text', 'vscsi:<system>/vios2')}
<button type="submit" class="primary">Show</button> <a href="/topology">All hosts</a></form>
<h2>Single points of failure</h2>
${
  topology.singlePointsOfFailure.length === 0
    ? html`<p>None among these hosts: every mirror and map has a half on another domain.</p>`
    : html`<table><caption>Arrays and maps whose every half depends on one domain</caption><thead><tr><th scope="col">Host</th><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Only domain</th></tr></thead><tbody>${topology.singlePointsOfFailure.map(
        (spof) =>
          html`<tr><td>${spof.hostId}</td><td>${spof.kind}</td><td>${spof.name}</td><td>${spof.failureDomain}</td></tr>`,
      )}</tbody></table>`
}
<h2>Hosts</h2>
${
  topology.hosts.length === 0
    ? html`<p>No host has reported yet.</p>`
    : html`<table><caption>Hosts and the domains their copies depend on</caption><thead><tr><th scope="col">Host</th><th scope="col">Role</th><th scope="col">Arrays</th><th scope="col">Maps</th><th scope="col">Depends on</th></tr></thead><tbody>${topology.hosts.map(
        (host) =>
          html`<tr><td>${host.hostId}</td><td>${host.role ?? ''}</td><td>${host.arrays.map(
            (array) =>
              html`${array.array} ${statusBadge(array.health)}${array.singlePointOfFailure ? ' single point of failure' : ''}<br>`,
          )}</td><td>${host.maps.map(
            (map) => html`${map.map}${map.singlePointOfFailure ? ' (single point of failure)' : ''}<br>`,
          )}</td><td>${host.domains.join(', ')}</td></tr>`,
      )}</tbody></table>`
}
<nav class="pager" aria-label="Pages of hosts">${
  paged
    ? html`<a href="/topology${domain === undefined ? '' : `?domain=${encodeURIComponent(domain)}`}">First page</a>`
    : ''
}${
  topology.cursor === null
    ? ''
    : html`<a href="/topology?${new URLSearchParams({ ...(domain === undefined ? {} : { domain }), cursor: topology.cursor }).toString()}" rel="next">Next page</a>`
}</nav>`;

export const signInView = (message: string | undefined, next: string): Fragment => html`<div class="signin">
<h1>Sign in</h1>
<p>Paste an operator token: the one <code>faultline up</code> printed on its first start (also in <code>.faultline/operator-token</code>), or one from <code>faultline tokens create</code>. An agent's token cannot sign in.</p>
${message === undefined ? '' : html`<p class="flash error" role="alert">${message}</p>`}
<form method="post" action="/sign-in">
<input type="hidden" name="next" value="${next}">
<p><label for="token">Operator token</label><br><input id="token" name="token" type="password" autocomplete="current-password" required></p>
<p><button type="submit" class="primary">Sign in</button></p>
</form></div>`;

/** What a link from another site leads to: one click on this site's own link, which sends the sign-in. */
export const continueView = (path: string): Fragment => html`<h1>Open this page of Faultline</h1>
<p>You followed a link from another site. Your browser keeps this page's sign-in from such links; follow this one to open it.</p>
<p><a href="${path}">Continue to ${path}</a></p>`;

export const errorView = (title: string, detail: string): Fragment =>
  html`<h1>${title}</h1><p>${detail}</p><p><a href="/">Back to the incidents</a></p>`;
