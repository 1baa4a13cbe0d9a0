/**
 * The page's only stylesheet and script, served by the app itself (no CDN, nothing to build). The
 * script only refreshes: every page works without it. It reloads a page that asks for it
 * (`data-refresh` on `<body>`, seconds) while the tab is visible and no form field has focus, so
 * an operator typing a filter or about to press a button is never interrupted; the reload drops
 * the line about the last action from the address, so it is said once.
 */

export const STYLESHEET = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #ffffff; --panel: #f6f8fa;
  --line: #d0d7de; --link: #0550ae; --focus: #bf3989;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --info: #0969da; --off: #57606a; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9da7b3; --bg: #0d1117; --panel: #161b22; --line: #30363d;
    --link: #79c0ff; --focus: #ff7bd5; --ok: #3fb950; --warn: #d29922; --bad: #f85149; --info: #58a6ff; --off: #8b949e; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible {
  outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: .5rem; }
.skip:focus { left: .5rem; }
header.site { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header.site .brand { font-weight: 700; font-size: 1.1rem; text-decoration: none; color: var(--fg); }
header.site nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
header.site .dispatch { margin-left: auto; display: flex; gap: .5rem; align-items: center; }
main { padding: 1rem; max-width: 78rem; }
h1 { font-size: 1.4rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; }
td.when, td.host { white-space: nowrap; }
caption { text-align: left; color: var(--muted); padding: .3rem 0; }
form.filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; margin-bottom: 1rem; }
form.filters label, form.inline label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
input, select, button { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: .3rem .5rem; }
button { cursor: pointer; background: var(--panel); }
button.primary { border-color: var(--info); }
button.danger { border-color: var(--bad); }
form.inline { display: inline-flex; gap: .5rem; align-items: flex-end; margin: 0 .5rem .5rem 0; }
.status { display: inline-block; padding: 0 .45rem; border-radius: 999px; border: 1px solid currentColor; font-size: .85rem; white-space: nowrap; }
.status::before { content: ""; display: inline-block; width: .55rem; height: .55rem; border-radius: 50%; background: currentColor; margin-right: .35rem; vertical-align: .05rem; }
.s-open, .s-halted, .s-failed, .s-degraded { color: var(--bad); }
.s-awaiting-recovery, .s-waiting, .s-planned, .s-proposed, .s-recovering { color: var(--warn); }
.s-remediating { color: var(--info); }
.s-resolved, .s-healthy { color: var(--ok); }
.s-skipped, .s-paused { color: var(--off); }
.muted { color: var(--muted); }
.flash { border: 1px solid var(--info); background: var(--panel); padding: .5rem .75rem; border-radius: 4px; margin-bottom: 1rem; }
.flash.error { border-color: var(--bad); }
.pager { display: flex; gap: 1rem; margin: 1rem 0; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
figure { margin: 0 0 1rem; }
figcaption { color: var(--muted); font-size: .9rem; }
svg text { fill: var(--fg); font: 12px system-ui, sans-serif; }
svg .axis, svg .grid { stroke: var(--line); }
svg .m-down { fill: var(--bad); } svg .m-up { fill: var(--ok); } svg .m-canary { fill: var(--info); }
svg .m-wave { fill: var(--info); } svg .m-resolved { fill: var(--ok); } svg .m-halted, svg .m-escalated { fill: var(--warn); }
svg .m-operator { fill: var(--off); } svg .healthy-line { stroke: var(--ok); fill: none; stroke-width: 2; }
svg .bar-detect { fill: var(--info); } svg .bar-heal { fill: var(--ok); }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.signin { max-width: 28rem; }
.signin input { width: 100%; }
`;

export const REFRESH_SCRIPT = `
(function () {
  var seconds = Number(document.body.getAttribute('data-refresh'));
  if (!(seconds > 0)) return;
  setInterval(function () {
    var active = document.activeElement;
    var typing = active && /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(active.tagName);
    if (document.visibilityState !== 'visible' || typing) return;
    // The line about the last action is said once: a refresh drops it from the address.
    var url = new URL(location.href);
    ['said', 'error', 'seal'].forEach(function (name) { url.searchParams.delete(name); });
    location.replace(url.toString());
  }, seconds * 1000);
})();
`;
