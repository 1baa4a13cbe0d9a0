import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

/**
 * The shell every page shares: the skip link, the site header (its pages, whether plans are being
 * dispatched, and the pause or resume button), the flash message of the last action, and the
 * refresh interval the page's script reads. Everything interpolated is escaped by `html`.
 */

export type Fragment = HtmlEscapedString | Promise<HtmlEscapedString>;

/** What every signed-in page shows in its header. */
export interface Shell {
  readonly title: string;
  /** Which page of the navigation this is. */
  readonly current: 'incidents' | 'stats' | 'topology' | undefined;
  /** Whether plans are paused (undefined: not signed in, so not shown). */
  readonly paused: boolean | undefined;
  readonly csrf: string | undefined;
  readonly flash?: { readonly text: string; readonly error: boolean } | undefined;
  /** Seconds between refreshes by the page's script; none when undefined. */
  readonly refreshSeconds?: number | undefined;
}

const NAV: readonly { key: NonNullable<Shell['current']>; href: string; label: string }[] = [
  { key: 'incidents', href: '/', label: 'Incidents' },
  { key: 'stats', href: '/stats', label: 'Time to heal' },
  { key: 'topology', href: '/topology', label: 'Topology' },
];

/** A form that posts an action with the session's CSRF token. */
export const actionForm = (
  action: string,
  csrf: string,
  button: string,
  options: { readonly fields?: Fragment; readonly style?: 'primary' | 'danger' } = {},
): Fragment =>
  html`<form class="inline" method="post" action="${action}"><input type="hidden" name="csrf" value="${csrf}">${
    options.fields ?? ''
  }<button type="submit"${options.style === undefined ? '' : html` class="${options.style}"`}>${button}</button></form>`;

/** A status in words, coloured by class, never by colour alone. */
export const statusBadge = (status: string): Fragment =>
  html`<span class="status s-${status}">${status}</span>`;

export const page = (shell: Shell, body: Fragment): Fragment => html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${shell.title} · Faultline</title>
<link rel="stylesheet" href="/assets/faultline.css">
<script src="/assets/refresh.js" defer></script>
</head>
<body${shell.refreshSeconds === undefined ? '' : html` data-refresh="${shell.refreshSeconds}"`}>
<a class="skip" href="#main">Skip to content</a>
<header class="site">
<a class="brand" href="/">Faultline</a>
${
  shell.csrf === undefined
    ? ''
    : html`<nav aria-label="Pages"><ul>${NAV.map(
        (item) =>
          html`<li><a href="${item.href}"${item.key === shell.current ? html` aria-current="page"` : ''}>${item.label}</a></li>`,
      )}</ul></nav>
<div class="dispatch">${
        shell.paused === undefined
          ? ''
          : shell.paused
            ? html`<span class="status s-paused">dispatch paused</span>${actionForm('/control/resume', shell.csrf, 'Resume dispatch', { style: 'primary' })}`
            : html`<span class="status s-remediating">dispatching</span>${actionForm('/control/pause', shell.csrf, 'Pause dispatch', { style: 'danger' })}`
      }${actionForm('/sign-out', shell.csrf, 'Sign out')}</div>`
}
</header>
<main id="main">
${shell.flash === undefined ? '' : html`<p class="flash${shell.flash.error ? ' error' : ''}" role="status">${shell.flash.text}</p>`}
${body}
</main>
</body>
</html>`;
