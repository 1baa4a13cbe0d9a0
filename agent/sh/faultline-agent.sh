#!/bin/sh
#
# faultline-agent.sh: the Faultline agent for the hosts Node cannot run on, the LDoms guests and
# control domains of SPARC Solaris (docs/architecture.md §2 "Platforms": V8 has no SPARC back end).
#
#   faultline-agent.sh run [--config FILE] [--once]
#   faultline-agent.sh scan [--config FILE]
#   faultline-agent.sh announce going-down [--config FILE] [REASON...]
#   faultline-agent.sh version
#
# `run` collects, posts, fetches its plans and runs them, every `intervalSeconds` (`--once`: one
# cycle, for cron). `scan` prints the collect body it would post. `announce going-down` posts the
# host's announcement (run by its shutdown sequence), waiting a few seconds at most.
#
# What it needs: POSIX sh and awk, and the host's own `openssl` and `curl` (or `wget`): on Solaris
# 11.3 and later nothing is installed. Solaris 10's /bin/sh is not POSIX: run it with
# /usr/xpg4/bin/sh there (and install an OpenSSL of 1.0 or later). Plain POSIX awk only: no gawk
# extension and no regular-expression interval (`{n,m}`), which Solaris nawk does not know; the
# tests run it under dash, busybox sh and ksh, with mawk and busybox awk.
#
# The contract (docs/architecture.md §6):
# - POST <apiUrl>/v1/agents/<hostId>/collect, `text/plain`, with `Authorization: Bearer <token>`:
#   sections opened by `#faultline <section>`: `host` (key=value lines: the boot, `seq`, the
#   plan actions it runs as `capabilities`, the plan running as `planid`), the raw output of
#   `metastat`, `metastat -c`, `metadb -i` and, on a control domain, `ldm list -p` and
#   `ldm list -o disk -p`; `progress` (planId, step, action, outcome, code, branch; TAB-separated)
#   and `announce` (`going-down [reason]`). A body that cannot be posted stays in a bounded spool
#   on disk and is re-sent, in order, before anything newer.
# - GET <apiUrl>/v1/agents/<hostId>/plans?format=lines (events/plan-lines.ts): per plan a `plan`
#   header line, `step` lines, then `sig<TAB><base64 DER ECDSA P-256>` over exactly the lines
#   before it, each ending in a newline; plans separated by an empty line.
#
# What it never does: `eval` or `.` of anything (the configuration is split into lines and each
# value checked against the shape its key allows; plans are parsed by awk into checked fields);
# a command built from a string (every command has its arguments quoted, each value checked again
# against a strict pattern right before it reaches the command line); an action outside its
# allow-list (`disk.probe`, `svm.metareplace`, `svm.wait-sync`, `svm.metadb-restore`, the Solaris
# capabilities of agent/executor/plan-runner.ts); `metareplace` of a component that is not in
# exactly Maintenance (a Last Erred component is never touched); `metadb -f`; a plan twice.
#
# Plan admission and every step check what agent/executor/plan-admission.ts and
# agent/executor/steps/svm-steps.ts check, in the same order, with the same codes
# (agent/executor/codes.ts), on a fresh reading of `metastat` and `metadb -i`.
#
# ShellCheck passes on it with no check disabled (test/agent/sh/shellcheck.test.ts).

set -u
LC_ALL=C
LANG=C
export LC_ALL LANG
umask 077

AGENT_VERSION=0.1.0
TAB=$(printf '\t')
DEFAULT_CONFIG=/etc/opt/faultline/agent.conf

# The admin tools live in /usr/sbin (metastat, metadb, metareplace, kstat, ldm on Oracle VM
# Server for SPARC 3.x) or /opt/SUNWldm/bin (ldm of LDoms 1.x). They are appended, so a PATH the
# service gives (or a test's fakes) comes first; /usr/xpg4/bin, where Solaris keeps the POSIX
# versions of grep, tr and awk, goes before everything when it exists.
PATH="${PATH:-/usr/bin}:/usr/sbin:/sbin:/usr/bin:/bin:/opt/SUNWldm/bin"
if [ -d /usr/xpg4/bin ]; then PATH="/usr/xpg4/bin:$PATH"; fi
export PATH

# Bounds: a collect body is at most 1 MiB (§3 "Limits"), so each tool's section is kept below a
# fifth of it; an answer of plans is small (a plan has at most 2 x 256 steps).
SECTION_MAX_BYTES=180000
PLANS_MAX_BYTES=4194304
# Plan admission (agent/executor/plan-admission.ts ADMISSION_DEFAULTS): a plan issued less than
# this after the boot began was decided on the boot before; a plan issued more than its TTL plus
# this before the agent's clock is a replay, whatever its receipt says.
BOOT_GRACE_SECONDS=120
ISSUE_SKEW_SECONDS=86400
# Ledger records older than this are pruned: such a plan is refused by its issue time anyway.
LEDGER_RETENTION_DAYS=30
# The longest Retry-After honoured: a longer one is cut to it, and a kept post-after further
# ahead than this was written before the clock stepped back (NTP), so it is dropped.
RETRY_AFTER_MAX_SECONDS=3600

# ---------------------------------------------------------------------------------------------
# Output

say() { printf 'faultline-agent: %s %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*" >&2; }
die() {
  say "$*"
  exit 2
}

# ---------------------------------------------------------------------------------------------
# awk: the first POSIX awk of /usr/xpg4/bin/awk (Solaris), nawk, awk, or the configured one.
# Every awk program of the agent runs through this function, with its library of checks.

# The path of a program on PATH (not a builtin, not a function), or nothing.
find_program() {
  fp_ifs=$IFS
  IFS=:
  set -f
  fp_found=
  for fp_dir in $PATH; do
    if [ -n "$fp_dir" ] && [ -f "$fp_dir/$1" ] && [ -x "$fp_dir/$1" ]; then
      fp_found="$fp_dir/$1"
      break
    fi
  done
  set +f
  IFS=$fp_ifs
  [ -n "$fp_found" ] && printf '%s\n' "$fp_found"
}

AWK_BIN=
resolve_awk() {
  if [ -n "${1:-}" ]; then
    AWK_BIN=$1
  elif [ -x /usr/xpg4/bin/awk ]; then
    AWK_BIN=/usr/xpg4/bin/awk
  else
    AWK_BIN=$(find_program nawk) || AWK_BIN=$(find_program awk) || AWK_BIN=
  fi
  case $AWK_BIN in
  /*) [ -x "$AWK_BIN" ] || die "no POSIX awk at $AWK_BIN" ;;
  *) die "no POSIX awk found (install one, or set awk= in the configuration)" ;;
  esac
}

awk() { "$AWK_BIN" "$@"; }

# ---------------------------------------------------------------------------------------------
# Waiting: sleep(1) as found on PATH, under every shell (ksh93 would otherwise use its builtin):
# one behaviour whatever the shell, and the simulated hosts of the tests move their clock with it.

SLEEP_BIN=$(find_program sleep) || SLEEP_BIN=

pause() {
  if [ -n "$SLEEP_BIN" ]; then "$SLEEP_BIN" "$1"; else sleep "$1"; fi
}

# ---------------------------------------------------------------------------------------------
# The work folder: the awk programs and the files of one invocation, removed at exit.

WORK=
HELD_LOCKS=
cleanup() {
  for held in $HELD_LOCKS; do rm -rf "$held"; done
  HELD_LOCKS=
  if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}
on_signal() { exit 143; }
trap cleanup EXIT
trap on_signal INT TERM HUP

make_work() {
  mw_base=${1:-/tmp}
  mw_n=0
  while [ "$mw_n" -lt 20 ]; do
    # mkdir fails when the name exists: nobody can hand this process a folder made in advance.
    if mkdir "$mw_base/faultline-agent.$$.$mw_n" 2>/dev/null; then
      WORK="$mw_base/faultline-agent.$$.$mw_n"
      write_awk_programs
      return 0
    fi
    mw_n=$((mw_n + 1))
  done
  die "cannot make a work folder in $mw_base"
}

write_awk_programs() {
  cat >"$WORK/lib.awk" <<'EOF'
# The library of every awk program: checks of names as events/names.ts has them, and time.
function is_uint(s) { return s ~ /^(0|[1-9][0-9]*)$/ && length(s) <= 12 }
# The characters a plan line may carry at all (events/plan-lines.ts SAFE_VALUE).
function is_safe(s) { return s ~ /^[A-Za-z0-9._:\/@+-]*$/ }
function is_label(s) { return length(s) <= 63 && s ~ /^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?$/ }
function is_host_id(s,   parts, n, i) {
  if (length(s) < 1 || length(s) > 253) return 0
  n = split(s, parts, /\./)
  for (i = 1; i <= n; i++) if (!is_label(parts[i])) return 0
  return 1
}
function is_identifier(s) {
  return length(s) <= 128 && s ~ /^[A-Za-z0-9][A-Za-z0-9._:-]*$/ && index(s, "..") == 0
}
function is_boot_id(s) { return length(s) <= 64 && s ~ /^[A-Za-z0-9][A-Za-z0-9-]*$/ }
function is_metadevice(s) { return length(s) <= 6 && s ~ /^d[0-9]+$/ }
function is_failure_domain(s,   rest) {
  if (length(s) > 300 || index(s, "..") > 0) return 0
  if (s ~ /^(vscsi|vdisk):[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?\/[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/) return 1
  if (s ~ /^fc:[0-9a-f]+$/ && length(s) == 19) return 1
  if (s ~ /^local:/) { rest = substr(s, 7); return is_host_id(rest) }
  return 0
}
# The whole disk of a Solaris disk or slice name, "" for any other name: c<1-4 digits>,
# optionally t<1-32 hex digits>, d<1-4 digits>, then for a slice s or p and 1-2 digits.
function solaris_disk_of(s,   disk, tail) {
  if (length(s) > 48) return ""
  disk = s
  if (match(disk, /[sp][0-9]+$/)) {
    if (RLENGTH > 3) return ""
    disk = substr(disk, 1, RSTART - 1)
  }
  if (disk !~ /^c[0-9]+(t[0-9A-Fa-f]+)?d[0-9]+$/) return ""
  match(disk, /^c[0-9]+/)
  if (RLENGTH > 5) return ""
  tail = substr(disk, RLENGTH + 1)
  match(tail, /d[0-9]+$/)
  if (RLENGTH > 5) return ""
  if (RSTART > 1 && (RSTART - 2 < 1 || RSTART - 2 > 32)) return ""
  return disk
}
function is_solaris_disk(s) { return s != "" && solaris_disk_of(s) == s }
function is_solaris_device(s) { return solaris_disk_of(s) != "" }
# Days since 1970-01-01 of a civil date, and back (proleptic Gregorian).
function days_from_civil(y, m, d,   era, yoe, doy, doe) {
  y -= (m <= 2)
  era = int((y >= 0 ? y : y - 399) / 400)
  yoe = y - era * 400
  doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
  return era * 146097 + doe - 719468
}
function civil_from_days(z,   era, doe, yoe, y, doy, mp, d, m) {
  z += 719468
  era = int((z >= 0 ? z : z - 146096) / 146097)
  doe = z - era * 146097
  yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
  y = yoe + era * 400
  doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
  mp = int((5 * doy + 2) / 153)
  d = doy - int((153 * mp + 2) / 5) + 1
  m = mp + (mp < 10 ? 3 : -9)
  y += (m <= 2)
  return sprintf("%04d-%02d-%02d", y, m, d)
}
function days_in_month(y, m) {
  if (m == 2) return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28
  return (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31
}
# Seconds since the epoch of an RFC 3339 time with a zone (Z or an offset), -1 if it is not one.
function rfc3339_epoch(s,   y, mo, d, h, mi, se, rest, off) {
  if (length(s) > 40) return -1
  if (s !~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9](\.[0-9]+)?(Z|[+-][0-9][0-9]:[0-9][0-9])$/) return -1
  y = substr(s, 1, 4) + 0; mo = substr(s, 6, 2) + 0; d = substr(s, 9, 2) + 0
  h = substr(s, 12, 2) + 0; mi = substr(s, 15, 2) + 0; se = substr(s, 18, 2) + 0
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59) return -1
  rest = substr(s, 20)
  sub(/^\.[0-9]+/, "", rest)
  off = 0
  if (rest != "Z") {
    off = (substr(rest, 2, 2) * 60 + substr(rest, 5, 2)) * 60
    if (substr(rest, 2, 2) + 0 > 23 || substr(rest, 5, 2) + 0 > 59) return -1
    if (substr(rest, 1, 1) == "-") off = -off
  }
  return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off
}
function format_time(t,   days, secs) {
  t = int(t)
  days = int(t / 86400)
  secs = t - days * 86400
  return civil_from_days(days) "T" sprintf("%02d:%02d:%02d", int(secs / 3600), int((secs % 3600) / 60), secs % 60) "Z"
}
# The time of day, in seconds since the epoch: POSIX srand() with no argument seeds with it and
# returns the previous seed, so the second call returns the first one's time. Old Solaris has no
# `date +%s`.
function epoch_now(   t) { srand(); t = srand(); return t }
EOF

  cat >"$WORK/config.awk" <<'EOF'
# The configuration: `key=value` lines, `#` comments and blank lines. Each key has a shape its
# value must have; an unknown key, a key set twice or a bad value is an error naming its key.
# Prints `K<TAB>key<TAB>value` per setting, `E<TAB>message` per error. Nothing is evaluated.
BEGIN {
  split("hostId apiUrl tokenFile planPublicKey intervalSeconds role stateDir stopFile dryRun root caBundle requestTimeoutSeconds spoolMaxBytes syncPollSeconds readTimeoutSeconds announceWaitSeconds httpClient awk", names, " ")
  for (i in names) known[names[i]] = 1
  alias["targets.api.url"] = "apiUrl"
  alias["targets.api.agentTokenFile"] = "tokenFile"
  alias["agentTokenFile"] = "tokenFile"
  alias["planPublicKeyFile"] = "planPublicKey"
  alias["intervals.heartbeatSeconds"] = "intervalSeconds"
}
function is_path(v) { return v ~ /^\/[A-Za-z0-9._\/+@:-]*$/ && length(v) <= 1024 && index(v, "/../") == 0 }
function in_range(v, lo, hi) { return is_uint(v) && v + 0 >= lo && v + 0 <= hi }
function check(key, v) {
  if (key == "hostId") return is_host_id(v) ? "" : "not a host id: letters, digits, - and _ in dot-separated labels"
  if (key == "apiUrl") return (v ~ /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]+)?(\/[A-Za-z0-9._~\/-]*)?$/ && length(v) <= 1024) ? "" : "not an http(s) URL such as https://faultline.example.net"
  if (key == "role") return (v == "client" || v == "control") ? "" : "client or control"
  if (key == "dryRun") return (v == "true" || v == "false") ? "" : "true or false"
  if (key == "httpClient") return (v == "auto" || v == "curl" || v == "wget") ? "" : "auto, curl or wget"
  if (key == "intervalSeconds") return in_range(v, 1, 86400) ? "" : "whole seconds from 1 to 86400"
  if (key == "requestTimeoutSeconds") return in_range(v, 1, 600) ? "" : "whole seconds from 1 to 600"
  if (key == "spoolMaxBytes") return in_range(v, 65536, 1073741824) ? "" : "bytes from 65536 to 1073741824"
  if (key == "syncPollSeconds") return in_range(v, 1, 300) ? "" : "whole seconds from 1 to 300"
  if (key == "readTimeoutSeconds") return in_range(v, 1, 600) ? "" : "whole seconds from 1 to 600"
  if (key == "announceWaitSeconds") return in_range(v, 1, 120) ? "" : "whole seconds from 1 to 120"
  return is_path(v) ? "" : "an absolute path (letters, digits and . _ / + @ : -)"
}
{
  line = $0
  sub(/\r$/, "", line)
  if (line ~ /^[ \t]*(#.*)?$/) next
  eq = index(line, "=")
  if (eq == 0) { print "E\tline " NR ": not key=value"; next }
  key = substr(line, 1, eq - 1)
  value = substr(line, eq + 1)
  gsub(/^[ \t]+|[ \t]+$/, "", key)
  gsub(/^[ \t]+|[ \t]+$/, "", value)
  if (key in alias) key = alias[key]
  if (!(key in known)) { print "E\tline " NR ": " (is_safe(key) ? key : "(a key)") ": unknown key"; next }
  if (key in seen) { print "E\tline " NR ": " key ": set twice"; next }
  seen[key] = 1
  why = check(key, value)
  if (why != "") { print "E\tline " NR ": " key ": " why; next }
  if (key == "apiUrl") sub(/\/+$/, "", value)
  print "K\t" key "\t" value
}
EOF

  cat >"$WORK/section.awk" <<'EOF'
# A tool's output as a collect section: as printed, but for a line that would open a section.
/^#faultline/ { next }
{ print }
EOF

  cat >"$WORK/metastat.awk" <<'EOF'
# `metastat` (probes/metastat.ts reads the same text) as records, one per line, TAB-separated:
#   M mirror resync%|-      S submirror mirror state pool|-
#   C submirror device state hotspare|-      H pool device status
# States as tokens: Okay, Resyncing, Maintenance, Last-Erred, Unavailable, Needs-maintenance, ?.
# Volumes of a named disk set (`blue/d10`) are skipped: a command built from the bare name would
# reach the local set.
function component_state(t) {
  t = tolower(t)
  if (t == "okay") return "Okay"
  if (t == "resyncing") return "Resyncing"
  if (t == "maintenance") return "Maintenance"
  if (t == "last erred") return "Last-Erred"
  if (t == "unavailable") return "Unavailable"
  return ""
}
function submirror_state(t) {
  t = tolower(t)
  gsub(/[ \t]+/, " ", t)
  gsub(/^ | $/, "", t)
  if (t == "okay") return "Okay"
  if (t == "resyncing") return "Resyncing"
  if (t == "needs maintenance") return "Needs-maintenance"
  if (t == "last erred") return "Last-Erred"
  if (t == "unavailable" || t == "offline") return "Unavailable"
  return "?"
}
function open_section(   name, kind, lk, words, n) {
  section = "other"
  if (!match($0, /^[^ \t]+:/)) return
  name = substr($0, 1, RLENGTH - 1)
  kind = substr($0, RLENGTH + 1)
  gsub(/^[ \t]+|[ \t]+$/, "", kind)
  if (index(name, "/") > 0) return
  if (name ~ /^hsp[0-9]+$/ && length(name) <= 6) { section = "pool"; pool = name; return }
  if (!is_metadevice(name)) return
  lk = tolower(kind)
  if (lk == "mirror") { section = "mirror"; nm++; m_name[nm] = name; m_resync[nm] = "-"; return }
  if (lk ~ /^submirror of [^ \t]+$/) {
    n = split(kind, words, /[ \t]+/)
    section = "submirror"; ns++; s_name[ns] = name; s_mirror[ns] = words[n]; s_state[ns] = "?"; s_pool[ns] = "-"
    awaiting_invoke = 0
  }
}
function mirror_line(   text) {
  if (tolower($0) ~ /^[ \t]+resync in progress[ \t]*:/) {
    text = substr($0, index($0, ":") + 1)
    sub(/^[ \t]+/, "", text)
    if (match(text, /^[0-9]+(\.[0-9]+)?[ \t]*%[ \t]*[Dd][Oo][Nn][Ee]/)) {
      text = substr(text, 1, RLENGTH)
      sub(/[ \t]*%.*$/, "", text)
      if (match(text, /^[0-9]+/) && RLENGTH <= 3 && text + 0 <= 100) m_resync[nm] = text
    }
  }
}
function submirror_line(   text, state, j, reloc, spare) {
  if (awaiting_invoke) {
    awaiting_invoke = 0
    if ($0 ~ /^[ \t]+meta[A-Za-z_0-9]+[ \t]/) return
  }
  if ($0 ~ /^[ \t]+State[ \t]*:/) { s_state[ns] = submirror_state(substr($0, index($0, ":") + 1)); return }
  if ($0 ~ /^[ \t]+Invoke[ \t]*:/) {
    text = substr($0, index($0, ":") + 1)
    sub(/^[ \t]+/, "", text)
    if (tolower(text) ~ /^after replacing/) awaiting_invoke = 1
    return
  }
  if ($0 ~ /^[ \t]+(Stripe|Concat)[ \t]+[0-9]+[ \t]*:/) return
  if (tolower($0) ~ /^[ \t]+hot spare pool[ \t]*:[ \t]*[^ \t]/) { s_pool[ns] = $NF; return }
  # A component row: device, start block, Dbase (Yes|No), state, then optional Reloc and hot spare.
  if (NF < 4 || $2 !~ /^[0-9]+$/ || length($2) > 20) return
  if (tolower($3) != "yes" && tolower($3) != "no") return
  state = component_state($4); j = 5
  if (tolower($4) == "last" && NF >= 5 && tolower($5) == "erred") { state = "Last-Erred"; j = 6 }
  if (state == "") return
  reloc = ""; spare = "-"
  if (j <= NF && (tolower($j) == "yes" || tolower($j) == "no")) { reloc = $j; j++ }
  if (j <= NF) { spare = $j; j++ }
  if (j <= NF) return
  if (!is_solaris_device($1)) return
  if (spare != "-" && !is_solaris_device(spare)) spare = "-"
  print "C\t" s_name[ns] "\t" $1 "\t" state "\t" spare
}
function pool_line(   status, device) {
  device = $1
  status = tolower($2)
  if (status == "in" && tolower($3) == "use") status = "In-use"
  else if (status == "available") status = "Available"
  else if (status == "broken") status = "Broken"
  else if (status == "unavailable") status = "Unavailable"
  else return
  if (is_solaris_device(device)) print "H\t" pool "\t" device "\t" status
}
BEGIN { section = "other" }
{
  sub(/\r$/, "")
  if ($0 ~ /^[ \t]*$/) next
  if ($0 !~ /^[ \t]/) {
    if ($0 ~ /^Device Relocation Information[ \t]*:/) { section = "reloc"; next }
    if (section == "reloc" && ($0 ~ /^Device[ \t]+Reloc/ || $0 ~ /^[^ \t]+[ \t]+(Yes|No)([ \t]+[^ \t]+)?[ \t]*$/)) next
    open_section()
    next
  }
  if (section == "mirror") mirror_line()
  else if (section == "submirror") submirror_line()
  else if (section == "pool") pool_line()
}
END {
  for (i = 1; i <= nm; i++) print "M\t" m_name[i] "\t" m_resync[i]
  for (i = 1; i <= ns; i++) print "S\t" s_name[i] "\t" s_mirror[i] "\t" s_state[i] "\t" s_pool[i]
}
EOF

  cat >"$WORK/metadb.awk" <<'EOF'
# `metadb -i` (probes/metadb.ts reads the same text) as records: per replica
#   R slice flags active(0|1) erred(0|1) disk|-
# and X <line> per line that is not one. Upper-case flags are errors (W R M D F S B); a replica
# is active when flagged `a` and in no error.
{
  line = $0
  sub(/\r$/, "", line)
  if (line ~ /^[ \t]*$/) next
  if (tolower(line) ~ /^[ \t]*flags[ \t]+first blk/) next
  if (line ~ /^[ \t]*[A-Za-z] - /) next
  n = split(line, raw, /[ \t]+/)
  m = 0
  for (i = 1; i <= n; i++) if (raw[i] != "") f[++m] = raw[i]
  ok = m >= 4
  if (ok) {
    b1 = f[m - 2]; b2 = f[m - 1]
    ok = (b1 == "unknown" || (b1 ~ /^[0-9]+$/ && length(b1) <= 15)) && (b2 == "unknown" || (b2 ~ /^[0-9]+$/ && length(b2) <= 15))
  }
  flags = ""
  if (ok) for (i = 1; i <= m - 3; i++) { if (f[i] !~ /^[A-Za-z]+$/) ok = 0; flags = flags f[i] }
  if (!ok) { print "X\t" line; next }
  slice = f[m]
  sub(/^\/dev\/r?dsk\//, "", slice)
  erred = flags ~ /[WRMDFSB]/ ? 1 : 0
  active = (index(flags, "a") > 0 && !erred) ? 1 : 0
  disk = solaris_disk_of(slice)
  print "R\t" slice "\t" flags "\t" active "\t" erred "\t" (disk == "" ? "-" : disk)
}
EOF

  cat >"$WORK/svm.awk" <<'EOF'
# The preconditions of the SVM steps (§4; agent/executor/steps/svm-steps.ts and
# agent/executor/metadb.ts), on the records of metastat.awk (file `ms`) and metadb.awk (file
# `mdb`). `check` says which; prints `ok<TAB>...` or `refused<TAB><code><TAB><detail>`.
BEGIN { FS = "\t" }
FILENAME == ms {
  if ($1 == "M") { mirror_known[$2] = 1; resync[$2] = $3 }
  else if ($1 == "S") { ns++; s_name[ns] = $2; s_mirror[ns] = $3; s_state[ns] = $4; s_pool[ns] = $5; mirror_of[$2] = $3 }
  else if ($1 == "C") { nc++; c_sub[nc] = $2; c_dev[nc] = $3; c_state[nc] = $4; c_spare[nc] = $5 }
  else if ($1 == "H") { nh++; h_pool[nh] = $2; h_dev[nh] = $3; h_status[nh] = $4 }
  next
}
FILENAME == mdb {
  if ($1 == "R") { nr++; r_slice[nr] = $2; r_flags[nr] = $3; r_active[nr] = $4; r_erred[nr] = $5; r_disk[nr] = $6 }
  else if ($1 == "X" && message == "") message = substr($0, 3)
  next
}
function refuse(code, detail) { print "refused\t" code "\t" detail; done = 1 }
function healthy(name,   i) {
  for (i = 1; i <= ns; i++) if (s_name[i] == name && s_state[i] != "Okay") return 0
  for (i = 1; i <= nc; i++) if (c_sub[i] == name && c_state[i] != "Okay") return 0
  return 1
}
function listed(i) { return r_slice[i] " (" r_flags[i] ")" }
function set_repaired(list, extra,   n, parts, i) {
  n = split(list, parts, " ")
  for (i = 1; i <= n; i++) repaired[parts[i]] = 1
  if (extra != "") repaired[extra] = 1
}
function metareplace(   i, holding, cstate, partners, unhealthy, stand, pools, erred, active) {
  if (!(mirror in mirror_known)) return refuse("mirror-not-found", mirror " is not an SVM mirror on this host")
  holding = ""
  for (i = 1; i <= nc && holding == ""; i++)
    if (c_dev[i] == component && mirror_of[c_sub[i]] == mirror) { holding = c_sub[i]; cstate = c_state[i] }
  if (holding == "") return refuse("component-not-found", component " is not a component of " mirror)
  if (cstate == "Last-Erred") return refuse("last-erred", component " of " holding " is Last Erred: only an operator replaces it")
  if (cstate != "Maintenance") return refuse("not-in-maintenance", component " of " holding " is " cstate ", not Maintenance")
  partners = ""; unhealthy = ""
  for (i = 1; i <= ns; i++) {
    if (s_mirror[i] != mirror || s_name[i] == holding) continue
    partners = partners (partners == "" ? "" : ", ") s_name[i]
    if (!healthy(s_name[i])) unhealthy = unhealthy (unhealthy == "" ? "" : "; ") s_name[i] " is " s_state[i]
  }
  if (partners == "") return refuse("partner-not-okay", mirror " has no other submirror")
  if (unhealthy != "") return refuse("partner-not-okay", unhealthy)
  stand = ""
  for (i = 1; i <= ns; i++) if (s_mirror[i] == mirror && s_pool[i] != "-") pools[s_pool[i]] = 1
  for (i = 1; i <= nc; i++)
    if (mirror_of[c_sub[i]] == mirror && c_spare[i] != "-") stand = stand (stand == "" ? "" : "; ") c_spare[i] " stands in for " c_dev[i]
  for (i = 1; i <= nh; i++)
    if ((h_pool[i] in pools) && h_status[i] == "In-use") stand = stand (stand == "" ? "" : "; ") h_dev[i] " of " h_pool[i] " is in use"
  if (stand != "") return refuse("hot-spare-in-use", stand)
  if (metadb_ok != 1) return refuse("metadb-unhealthy", "metadb gave no answer")
  if (nr == 0) return refuse("metadb-unhealthy", message == "" ? "no state database replica" : message)
  set_repaired(disks, "")
  erred = ""; active = 0
  for (i = 1; i <= nr; i++) {
    if (r_erred[i] == 1 && !(r_disk[i] in repaired)) erred = erred (erred == "" ? "" : ", ") listed(i)
    if (r_active[i] == 1) active++
  }
  if (erred != "") return refuse("metadb-unhealthy", "replica errors off the repaired disks " disks ": " erred)
  if (active * 2 < nr) return refuse("metadb-unhealthy", "only " active " of " nr " replicas are active")
  print "ok\t" partners
}
function restore(   i, on_slice, working, others, inactive) {
  set_repaired(disks, solaris_disk_of(slice))
  on_slice = 0; working = ""; others = 0; inactive = ""
  for (i = 1; i <= nr; i++) {
    if (r_slice[i] == slice) { on_slice++; if (r_erred[i] != 1) working = working (working == "" ? "" : ", ") listed(i) }
    if (!(r_disk[i] in repaired)) { others++; if (r_active[i] != 1) inactive = inactive (inactive == "" ? "" : ", ") listed(i) }
  }
  if (on_slice == 0) return refuse("no-replica-on-slice", "metadb lists no replica on " slice)
  if (working != "") return refuse("replica-not-in-error", "replicas on " slice " are not in error (" working "): nothing to re-create")
  if (inactive != "") return refuse("other-replica-not-active", "replicas on disks this plan did not repair are not active: " inactive)
  if (others * 2 < nr) return refuse("too-few-other-replicas", "only " others " of " nr " replicas are on other disks than " disks ": fewer than half")
  if (count + 0 != on_slice) return refuse("replica-count-mismatch", "the plan re-creates " count " replicas on " slice ", metadb lists " on_slice)
  print "ok\t" on_slice " replicas on " slice " in error, " others " of " nr " on disks this plan did not repair active"
}
function sync_state(   i, n, all, erred) {
  if (!(mirror in mirror_known)) { print "missing"; return }
  n = 0; all = 1; erred = ""
  for (i = 1; i <= ns; i++) if (s_mirror[i] == mirror) { n++; if (!healthy(s_name[i])) all = 0 }
  if (n > 0 && all) { print "done"; return }
  for (i = 1; i <= nc; i++) if (mirror_of[c_sub[i]] == mirror && c_state[i] == "Last-Erred") erred = erred (erred == "" ? "" : ", ") c_dev[i]
  if (erred != "") { print "erred\t" erred; return }
  print "progress\t" resync[mirror]
}
function component_now(   i) {
  for (i = 1; i <= nc; i++) if (c_dev[i] == component && mirror_of[c_sub[i]] == mirror) { print c_state[i]; return }
  print "-"
}
function slice_now(   i, n, a) {
  for (i = 1; i <= nr; i++) if (r_slice[i] == slice) { n++; if (r_active[i] == 1) a++ }
  print (n + 0) "\t" (a + 0)
}
END {
  if (check == "metareplace") metareplace()
  else if (check == "restore") restore()
  else if (check == "sync") sync_state()
  else if (check == "mirror") print ((mirror in mirror_known) ? "yes" : "no")
  else if (check == "component") component_now()
  else if (check == "slice") slice_now()
}
EOF

  cat >"$WORK/split.awk" <<'EOF'
# Plans in lines, split per plan (blocks separated by empty lines): the lines before the `sig`
# line go to <dir>/<n>.lines, exactly as served, each ending in a newline (the bytes the
# signature covers), the signature to <dir>/<n>.sig. Prints `<n><TAB>ok` or `<n><TAB>bad<TAB>why`.
BEGIN { n = 0; open = 0; MAX_LINE = 8192; MAX_LINES = 600; MAX_PLANS = 256 }
function finish() {
  close(lines)
  if (state == "ok" && sig == "") { state = "bad"; why = "no sig line" }
  if (state == "ok") { print sig > (dir "/" n ".sig"); close(dir "/" n ".sig") }
  print n "\t" state "\t" why
  open = 0
}
{
  if ($0 == "") { if (open) finish(); next }
  if (!open) {
    if (n >= MAX_PLANS) { more = 1; exit }
    n++; open = 1; count = 0; sig = ""; state = "ok"; why = "-"
    lines = dir "/" n ".lines"
    printf "" > lines
  }
  if (state != "ok") next
  if (length($0) > MAX_LINE) { state = "bad"; why = "a line longer than " MAX_LINE " bytes"; next }
  if (sig != "") { state = "bad"; why = "lines after the sig line"; next }
  if (substr($0, 1, 4) == "sig\t") { sig = substr($0, 5); if (sig == "") sig = "-"; next }
  if (++count > MAX_LINES) { state = "bad"; why = "more than " MAX_LINES " lines"; next }
  print > lines
}
END { if (open) finish() }
EOF

  cat >"$WORK/plan.awk" <<'EOF'
# One plan's lines (events/plan-lines.ts), parsed and checked as the contract parses a plan
# (events/plan.ts, events/names.ts): the header, then the steps of `steps`, then those of the
# fast path, each branch numbered from 0, the first step a disk.probe, every value of the plan-line
# alphabet and of the shape its key has. Prints
#   H id incidentId hostId bootId|- attempt wave issuedEpoch ttlSeconds mode
#   S steps|fastPath index action arg1|- arg2|-
# or `E<TAB>why` (and `I<TAB>id` when the header carries a valid id): nothing of a plan that
# does not parse is used, but its id, to report its refusal.
BEGIN {
  FS = "\t"
  split("disk.probe md.fail md.remove scsi.delete scsi.rescan disk.verify md.add md.wait-sync svm.metareplace svm.wait-sync multipath.reinstate md.zero-superblock scsi.online svm.metadb-restore", list, " ")
  for (i in list) known[list[i]] = 1
  err = ""; id = ""; nsteps = 0; nfast = 0; fast_seen = 0; nout = 0
}
function fail(why) { if (err == "") err = why }
function int_in(v, lo, hi) { return is_uint(v) && v + 0 >= lo && v + 0 <= hi }
function header(   i, issued) {
  if ($1 != "plan") return fail("the first line is not a plan header")
  if (NF >= 2 && is_identifier($2)) id = $2
  if (NF != 10) return fail("a plan header has 10 fields, this one has " NF)
  for (i = 1; i <= NF; i++) if (!is_safe($i)) return fail("header field " i " holds a character no plan line may")
  if (!is_identifier($2)) return fail("id: not an identifier")
  if (!is_identifier($3)) return fail("incidentId: not an identifier")
  if (!is_host_id($4)) return fail("hostId: not a host id")
  if ($5 != "" && !is_boot_id($5)) return fail("bootId: not a boot id")
  if (!int_in($6, 1, 1000)) return fail("attempt: not from 1 to 1000")
  if (!is_uint($7)) return fail("wave: not a whole number")
  issued = rfc3339_epoch($8)
  if (issued < 0) return fail("issuedAt: not an RFC 3339 time")
  if (!int_in($9, 1, 86400)) return fail("ttlSeconds: not from 1 to 86400")
  if ($10 != "execute" && $10 != "dry-run") return fail("mode: neither execute nor dry-run")
  head = sprintf("H\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s", $2, $3, $4, ($5 == "" ? "-" : $5), $6, $7, issued, $9, $10)
}
# The step's key=value fields into kv[], each key once; false when one is not key=value.
function pairs(   i, eq, key) {
  for (key in kv) delete kv[key]
  nkv = 0
  for (i = 5; i <= NF; i++) {
    eq = index($i, "=")
    if (eq < 2) return 0
    key = substr($i, 1, eq - 1)
    if ((key in kv) || !is_safe(key) || !is_safe(substr($i, eq + 1))) return 0
    kv[key] = substr($i, eq + 1)
    nkv++
  }
  return 1
}
# Exactly the keys named (required ones first, `need` of them), no other.
function keys_are(required, optional,   n, parts, i, allowed, key) {
  n = split(required, parts, " ")
  for (i = 1; i <= n; i++) { allowed[parts[i]] = 1; if (!(parts[i] in kv)) return 0 }
  n = split(optional, parts, " ")
  for (i = 1; i <= n; i++) allowed[parts[i]] = 1
  for (key in kv) if (!(key in allowed)) return 0
  return 1
}
function step(   i, branch, expect, action, a1, a2) {
  if ($1 != "step") return fail("line " NR " is neither a step line nor a sig line")
  if (NF < 4) return fail("line " NR ": a step line has at least 4 fields")
  for (i = 1; i <= 4; i++) if (!is_safe($i)) return fail("line " NR ": field " i " holds a character no plan line may")
  if ($2 == "steps") { if (fast_seen) return fail("line " NR ": a step of steps after the fast path"); expect = nsteps; branch = "steps" }
  else if ($2 == "fast") { fast_seen = 1; expect = nfast; branch = "fastPath" }
  else return fail("line " NR ": the branch is neither steps nor fast")
  if (!is_uint($3) || $3 + 0 != expect) return fail("line " NR ": step " $3 " where " expect " was next")
  action = $4
  if (!(action in known)) return fail("line " NR ": unknown action")
  if (!pairs()) return fail("line " NR ": a field that is not key=value of the plan-line alphabet, or a key twice")
  a1 = "-"; a2 = "-"
  if (action == "disk.probe") {
    if (!keys_are("disk failureDomain", "hctl scsiHost")) return fail("line " NR ": disk.probe takes disk, failureDomain, hctl and scsiHost")
    if (!is_solaris_disk(kv["disk"])) return fail("line " NR ": disk is not a Solaris disk name such as c0d1")
    if (!is_failure_domain(kv["failureDomain"])) return fail("line " NR ": failureDomain is not a failure domain")
    if (("hctl" in kv) && (kv["hctl"] !~ /^[0-9]+:[0-9]+:[0-9]+:[0-9]+$/ || length(kv["hctl"]) > 40)) return fail("line " NR ": hctl")
    if (("scsiHost" in kv) && (kv["scsiHost"] !~ /^host[0-9]+$/ || length(kv["scsiHost"]) > 9)) return fail("line " NR ": scsiHost")
    a1 = kv["disk"]
  } else if (action == "svm.metareplace") {
    if (!keys_are("component mirror", "")) return fail("line " NR ": svm.metareplace takes mirror and component")
    if (!is_metadevice(kv["mirror"])) return fail("line " NR ": mirror is not a metadevice such as d10")
    if (!is_solaris_device(kv["component"])) return fail("line " NR ": component is not a Solaris slice such as c0d1s0")
    a1 = kv["mirror"]; a2 = kv["component"]
  } else if (action == "svm.wait-sync") {
    if (!keys_are("mirror stallSeconds", "")) return fail("line " NR ": svm.wait-sync takes mirror and stallSeconds")
    if (!is_metadevice(kv["mirror"])) return fail("line " NR ": mirror is not a metadevice such as d10")
    if (!int_in(kv["stallSeconds"], 1, 86400)) return fail("line " NR ": stallSeconds is not from 1 to 86400")
    a1 = kv["mirror"]; a2 = kv["stallSeconds"]
  } else if (action == "svm.metadb-restore") {
    if (!keys_are("count slice", "")) return fail("line " NR ": svm.metadb-restore takes slice and count")
    if (!is_solaris_device(kv["slice"])) return fail("line " NR ": slice is not a Solaris slice such as c0d1s7")
    if (!int_in(kv["count"], 1, 50)) return fail("line " NR ": count is not from 1 to 50")
    a1 = kv["slice"]; a2 = kv["count"]
  }
  if (branch == "steps") {
    nsteps++
    if (nsteps == 1 && action != "disk.probe") return fail("every plan starts with disk.probe")
    if (nsteps > 256) return fail("more than 256 steps")
  } else if (++nfast > 256) return fail("more than 256 fast path steps")
  out[++nout] = "S\t" branch "\t" $3 "\t" action "\t" a1 "\t" a2
}
NR == 1 { header(); next }
{ if (err == "") step() }
END {
  if (NR == 0) fail("no lines")
  else if (err == "" && nsteps == 0) fail("a plan has at least one step")
  if (err != "") { print "E\t" err; if (id != "") print "I\t" id; exit }
  print head
  for (i = 1; i <= nout; i++) print out[i]
}
EOF

  cat >"$WORK/boot.awk" <<'EOF'
# The boot, from `kstat -p unix:0:system_misc:boot_time` (`src=kstat`) or `who -b` run with
# TZ=UTC0 (`src=who`): prints `<epoch><TAB><boot id>`, nothing when the text names no boot.
src == "kstat" && $1 == "unix:0:system_misc:boot_time" && $2 ~ /^[0-9]+$/ && length($2) <= 12 {
  printf "%s\tboot-%s\n", $2, $2
  exit
}
src == "who" && index($0, "system boot") > 0 {
  text = substr($0, index($0, "system boot") + 11)
  n = split(text, w, /[ \t]+/)
  m = 0
  for (i = 1; i <= n; i++) if (w[i] != "") v[++m] = w[i]
  now = epoch_now()
  if (m >= 2 && v[1] ~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/) {
    # GNU who: `system boot  2026-11-22 03:10`
    y = substr(v[1], 1, 4) + 0; mo = substr(v[1], 6, 2) + 0; d = substr(v[1], 9, 2) + 0; hm = v[2]
  } else if (m >= 3) {
    # Solaris, AIX: `system boot  Nov 22 03:10`, no year: the latest year not more than a day ahead.
    mo = index("janfebmaraprmayjunjulaugsepoctnovdec", tolower(v[1]))
    if (mo == 0 || (mo - 1) % 3 != 0 || length(v[1]) != 3) exit
    mo = (mo - 1) / 3 + 1; d = v[2] + 0; hm = v[3]
    y = substr(format_time(now), 1, 4) + 0
  } else exit
  if (hm !~ /^[0-9]?[0-9]:[0-9][0-9]$/ || d < 1 || d > days_in_month(y, mo)) exit
  split(hm, t, ":")
  at = days_from_civil(y, mo, d) * 86400 + t[1] * 3600 + t[2] * 60
  if (m >= 3 && v[1] !~ /-/ && at > now + 86400) { y--; at = days_from_civil(y, mo, d) * 86400 + t[1] * 3600 + t[2] * 60 }
  printf "%.0f\twho-%04d%02d%02d%02d%02d\n", at, y, mo, d, t[1], t[2]
  exit
}
EOF

  cat >"$WORK/repairs.awk" <<'EOF'
# The mirrors (want=mirrors) or disks (want=disks) of a branch's svm.metareplace steps, from the
# records of plan.awk; only those before step `before` when it is set.
$1 == "S" && $2 == branch && $4 == "svm.metareplace" && (before == "" || $3 + 0 < before + 0) {
  value = (want == "mirrors") ? $5 : solaris_disk_of($6)
  if (value != "" && !(value in seen)) { seen[value] = 1; list = list (list == "" ? "" : " ") value }
}
END { print list }
EOF

  cat >"$WORK/calc.awk" <<'EOF'
# Small sums the shell cannot do on every Solaris (ksh88 arithmetic is 32 bits): `op` names it.
BEGIN {
  if (op == "now") printf "%.0f\n", epoch_now()
  else if (op == "format") print format_time(a)
  else if (op == "disk") print solaris_disk_of(a)
  else if (op == "seq") {
    # The next seq (§3: per agent, strictly increasing across restarts): above the last one
    # written, and above the clock in microseconds, as the Node agent's floor
    # (agent/state/seq-reservation.ts), so a lost state file never makes it go back.
    last = (a ~ /^[0-9]+$/ && length(a) <= 17) ? a + 0 : 0
    next_seq = b * 1000000
    if (last + 1 > next_seq) next_seq = last + 1
    printf "%.0f\t%020.0f\n", next_seq, next_seq
  }
}
EOF
}

# ---------------------------------------------------------------------------------------------
# Time: seconds since the epoch, and RFC 3339 in UTC, computed by awk (no `date +%s` on old Solaris).

now_epoch() { awk -v op=now -f "$WORK/lib.awk" -f "$WORK/calc.awk"; }
format_time() { awk -v op=format -v a="$1" -f "$WORK/lib.awk" -f "$WORK/calc.awk"; }

# ---------------------------------------------------------------------------------------------
# Configuration: `key=value` lines (docs/architecture.md §6: the keys of agent.json, flat). The
# file is split by awk into checked settings, and each is assigned by name: nothing read from it
# is ever evaluated.

CONFIG_FILE=$DEFAULT_CONFIG
CFG_HOST_ID=
CFG_API_URL=
CFG_TOKEN_FILE=
CFG_PLAN_KEY=
CFG_INTERVAL=60
CFG_ROLE=client
CFG_STATE_DIR=/var/opt/faultline
CFG_STOP_FILE=
CFG_DRY_RUN=false
CFG_ROOT=/
CFG_CA_BUNDLE=
CFG_REQUEST_TIMEOUT=30
CFG_SPOOL_MAX_BYTES=16777216
CFG_SYNC_POLL=5
CFG_READ_TIMEOUT=10
CFG_ANNOUNCE_WAIT=5
CFG_HTTP_CLIENT=auto

# The awk programs are needed to read the configuration, and the configuration may name the awk:
# its `awk=` line is looked up first, by the shell alone (and checked as a path, not run).
config_awk() {
  cw_value=
  while IFS= read -r cw_line || [ -n "$cw_line" ]; do
    cw_line=$(printf '%s' "$cw_line" | tr -d ' \t\r')
    case $cw_line in
    awk=*) cw_value=${cw_line#awk=} ;;
    esac
  done <"$1"
  case $cw_value in
  '') ;;
  /*[!A-Za-z0-9._/+@:-]*) die "$1: awk: an absolute path (letters, digits and . _ / + @ : -)" ;;
  /*) printf '%s' "$cw_value" ;;
  *) die "$1: awk: an absolute path" ;;
  esac
}

load_config() {
  [ -r "$CONFIG_FILE" ] || die "cannot read the configuration $CONFIG_FILE (--config FILE)"
  resolve_awk "$(config_awk "$CONFIG_FILE")"
  make_work "${TMPDIR:-/tmp}"
  lc_parsed=$(awk -f "$WORK/lib.awk" -f "$WORK/config.awk" "$CONFIG_FILE") || die "$CONFIG_FILE: awk failed"
  lc_errors=
  while IFS="$TAB" read -r lc_tag lc_key lc_value; do
    case $lc_tag in
    E) lc_errors="$lc_errors; $lc_key" ;;
    K)
      case $lc_key in
      hostId) CFG_HOST_ID=$lc_value ;;
      apiUrl) CFG_API_URL=$lc_value ;;
      tokenFile) CFG_TOKEN_FILE=$lc_value ;;
      planPublicKey) CFG_PLAN_KEY=$lc_value ;;
      intervalSeconds) CFG_INTERVAL=$lc_value ;;
      role) CFG_ROLE=$lc_value ;;
      stateDir) CFG_STATE_DIR=$lc_value ;;
      stopFile) CFG_STOP_FILE=$lc_value ;;
      dryRun) CFG_DRY_RUN=$lc_value ;;
      root) CFG_ROOT=$lc_value ;;
      caBundle) CFG_CA_BUNDLE=$lc_value ;;
      requestTimeoutSeconds) CFG_REQUEST_TIMEOUT=$lc_value ;;
      spoolMaxBytes) CFG_SPOOL_MAX_BYTES=$lc_value ;;
      syncPollSeconds) CFG_SYNC_POLL=$lc_value ;;
      readTimeoutSeconds) CFG_READ_TIMEOUT=$lc_value ;;
      announceWaitSeconds) CFG_ANNOUNCE_WAIT=$lc_value ;;
      httpClient) CFG_HTTP_CLIENT=$lc_value ;;
      awk) ;; # read before the others (config_awk)
      esac
      ;;
    esac
  done <<EOF
$lc_parsed
EOF
  [ -z "$lc_errors" ] || die "$CONFIG_FILE: ${lc_errors#; }"
  [ -n "$CFG_HOST_ID" ] || die "$CONFIG_FILE: hostId: required"
  [ -n "$CFG_STOP_FILE" ] || CFG_STOP_FILE="$CFG_STATE_DIR/stop"
  case $CFG_ROOT in /) ROOT_PREFIX= ;; *) ROOT_PREFIX=${CFG_ROOT%/} ;; esac
  if [ -n "$CFG_PLAN_KEY" ] && [ ! -r "$CFG_PLAN_KEY" ]; then die "$CONFIG_FILE: planPublicKey: cannot read $CFG_PLAN_KEY"; fi
}

need_api() {
  [ -n "$CFG_API_URL" ] || die "$CONFIG_FILE: apiUrl: required"
  [ -n "$CFG_TOKEN_FILE" ] || die "$CONFIG_FILE: tokenFile: required"
}

# ---------------------------------------------------------------------------------------------
# State: the state folder (0700) holds the spool, seq, the plan ledger and the locks.

STATE=
SPOOL=
LEDGER=
state_init() {
  STATE=$CFG_STATE_DIR
  SPOOL="$STATE/spool"
  LEDGER="$STATE/plans"
  mkdir -p "$SPOOL" "$LEDGER/received" "$LEDGER/runs" "$LEDGER/reported" "$STATE/rejected" 2>/dev/null ||
    die "cannot make the state folder $STATE"
  chmod 700 "$STATE" 2>/dev/null
  [ -w "$STATE" ] || die "cannot write the state folder $STATE"
}

# A lock is a folder (mkdir is atomic everywhere) holding the holder's pid; a holder that is gone
# leaves a stale lock, which is taken over. Waits up to $2 seconds.
lock_take() {
  lt_waited=0
  while ! mkdir "$1" 2>/dev/null; do
    lt_holder=$(cat "$1/pid" 2>/dev/null) || lt_holder=
    case $lt_holder in
    '' | *[!0-9]*) ;;
    *)
      if ! kill -0 "$lt_holder" 2>/dev/null; then
        rm -rf "$1"
        continue
      fi
      ;;
    esac
    [ "$lt_waited" -lt "$2" ] || return 1
    pause 1
    lt_waited=$((lt_waited + 1))
  done
  printf '%s\n' "$$" >"$1/pid"
  HELD_LOCKS="$HELD_LOCKS $1"
}

lock_release() {
  rm -rf "$1"
  lr_kept=
  for lr_lock in $HELD_LOCKS; do [ "$lr_lock" = "$1" ] || lr_kept="$lr_kept $lr_lock"; done
  HELD_LOCKS=$lr_kept
}

# ---------------------------------------------------------------------------------------------
# The boot: its time and an id that names it, compared only for equality (§3 `bootid`).
#
# Solaris 10 and 11 both have `kstat -p unix:0:system_misc:boot_time`: the kernel's boot time
# in seconds since the epoch, which names the boot to the second (`boot-<seconds>`). Where kstat
# cannot be run (a zone without /dev/kstat), `who -b` reads the boot record init wrote to utmpx,
# to the minute and without a year, in local time: it runs with TZ=UTC0 so it prints UTC
# (`who-<YYYYMMDDHHMM>`, the key the Node agent derives from it, probes/who-boot.ts). With
# neither, the boot is `boot-unknown` and `bootedAt` is left out.

BOOT_ID=boot-unknown
BOOTED_AT=
BOOTED_EPOCH=
read_boot() {
  rb_line=
  if command -v kstat >/dev/null 2>&1; then
    rb_line=$(kstat -p unix:0:system_misc:boot_time </dev/null 2>/dev/null |
      awk -v src=kstat -F "$TAB" -f "$WORK/lib.awk" -f "$WORK/boot.awk")
  fi
  if [ -z "$rb_line" ] && command -v who >/dev/null 2>&1; then
    rb_line=$(TZ=UTC0 who -b </dev/null 2>/dev/null | awk -v src=who -f "$WORK/lib.awk" -f "$WORK/boot.awk")
  fi
  [ -n "$rb_line" ] || return 0
  BOOTED_EPOCH=${rb_line%%"$TAB"*}
  BOOT_ID=${rb_line#*"$TAB"}
  BOOTED_AT=$(format_time "$BOOTED_EPOCH")
}

# ---------------------------------------------------------------------------------------------
# Collect: the tools' raw output as sections of one text/plain body (§6).

# A tool's output as a section, when the tool is there and succeeds; a tool that fails says
# nothing sure, so its section is left out (as the Node agent's scan leaves out a tool that
# failed), and so is an output larger than a section may be.
tool_section() {
  ts_name=$1
  shift
  command -v "$1" >/dev/null 2>&1 || return 0
  if "$@" <"/dev/null" >"$WORK/tool.out" 2>"$WORK/tool.err"; then
    ts_size=$(wc -c <"$WORK/tool.out" | tr -d ' \t')
    if [ "$ts_size" -gt "$SECTION_MAX_BYTES" ]; then
      say "$*: $ts_size bytes of output, more than a section holds ($SECTION_MAX_BYTES): left out"
      return 0
    fi
    printf '#faultline %s\n' "$ts_name"
    awk -f "$WORK/section.awk" "$WORK/tool.out"
  fi
}

# The host's storage as the tools print it: what every collect carries.
snapshot() {
  {
    tool_section metastat metastat
    # `metastat -c` is the compact listing (Solaris 10 and later).
    tool_section metastat-c metastat -c
    tool_section metadb metadb -i
    if [ "$CFG_ROLE" = control ]; then
      tool_section ldm-list ldm list -p
      tool_section ldm-disks ldm list -o disk -p
    fi
  } >"$1"
}

host_section() {
  printf '#faultline host\n'
  printf 'platform=solaris\n'
  printf 'role=%s\n' "$CFG_ROLE"
  printf 'agentVersion=%s\n' "$AGENT_VERSION"
  printf 'intervalSeconds=%s\n' "$CFG_INTERVAL"
  # The plan actions this agent runs (the heartbeat's `capabilities`): the planners send no other.
  printf 'capabilities=%s\n' "$CAPABILITIES"
  printf 'bootid=%s\n' "$BOOT_ID"
  if [ -n "$BOOTED_AT" ]; then printf 'bootedAt=%s\n' "$BOOTED_AT"; fi
  printf 'seq=%s\n' "$1"
  printf 'time=%s\n' "$(format_time "$(now_epoch)")"
  # The plan running while the tools ran (§3 `planid`): the control plane marks the storage
  # changes of this collect as the plan's own work, as the Node agent marks detection's events.
  if [ -n "$RUNNING_PLAN" ]; then printf 'planid=%s\n' "$RUNNING_PLAN"; fi
}

# The next seq, as `seq<TAB>zero-padded`; $1: write it (a collect that is spooled) or not (scan).
next_seq() {
  ns_last=
  if [ -r "$STATE/seq" ]; then ns_last=$(cat "$STATE/seq" 2>/dev/null) || ns_last=; fi
  ns_pair=$(awk -v op=seq -v a="$ns_last" -v b="$(now_epoch)" -f "$WORK/lib.awk" -f "$WORK/calc.awk")
  if [ "$1" = write ]; then
    printf '%s\n' "${ns_pair%%"$TAB"*}" >"$STATE/seq.$$" && mv "$STATE/seq.$$" "$STATE/seq" || return 1
  fi
  printf '%s\n' "$ns_pair"
}

# Writes a collect into the spool: the snapshot $1, the progress waiting to be sent, and the
# announcement $2 if any. Under the seq lock, so files enter the spool in seq order.
spool_collect() {
  lock_take "$STATE/seq.lock" 30 || {
    say "the seq lock $STATE/seq.lock stays held: collect not spooled"
    return 1
  }
  sc_pair=$(next_seq write) || {
    lock_release "$STATE/seq.lock"
    say "cannot write $STATE/seq: collect not spooled"
    return 1
  }
  sc_seq=${sc_pair%%"$TAB"*}
  sc_file="$SPOOL/${sc_pair#*"$TAB"}.collect"
  # The progress waiting is taken (renamed: a line appended meanwhile starts a new file) into
  # progress.sending, which stays until a body holding it is in the spool; one left by a crash is
  # sent with the next body.
  if [ -s "$STATE/progress.pending" ] && mv "$STATE/progress.pending" "$STATE/progress.taken"; then
    cat "$STATE/progress.taken" >>"$STATE/progress.sending" && rm -f "$STATE/progress.taken"
  fi
  {
    host_section "$sc_seq"
    cat "$1"
    if [ -s "$STATE/progress.sending" ]; then
      printf '#faultline progress\n'
      cat "$STATE/progress.sending"
    fi
    if [ -n "${2:-}" ]; then
      printf '#faultline announce\n'
      printf '%s\n' "$2"
    fi
  } >"$sc_file.tmp" && mv "$sc_file.tmp" "$sc_file"
  sc_status=$?
  if [ "$sc_status" -eq 0 ]; then rm -f "$STATE/progress.sending"; fi
  lock_release "$STATE/seq.lock"
  spool_trim
  return "$sc_status"
}

# The spool is bounded (spoolMaxBytes): the oldest bodies go first, those that carry only a
# snapshot (a newer snapshot says more) before those with progress or an announcement. The newest
# body always stays.
spool_trim() {
  st_newest=
  for st_file in "$SPOOL"/*.collect; do if [ -f "$st_file" ]; then st_newest=$st_file; fi; done
  [ -n "$st_newest" ] || return 0
  # wc prints a total last (or, for one file, that file's size).
  st_total=$(wc -c "$SPOOL"/*.collect 2>/dev/null | awk 'END { printf "%.0f\n", $1 }')
  [ "$st_total" -gt "$CFG_SPOOL_MAX_BYTES" ] || return 0
  for st_pass in snapshots any; do
    for st_file in "$SPOOL"/*.collect; do
      [ "$st_total" -gt "$CFG_SPOOL_MAX_BYTES" ] || return 0
      if [ ! -f "$st_file" ] || [ "$st_file" = "$st_newest" ]; then continue; fi
      if [ "$st_pass" = snapshots ] && grep -q -e '^#faultline progress$' -e '^#faultline announce$' "$st_file"; then
        continue
      fi
      st_size=$(wc -c <"$st_file" | tr -d ' \t')
      rm -f "$st_file"
      st_total=$((st_total - st_size))
      say "spool over $CFG_SPOOL_MAX_BYTES bytes: dropped ${st_file##*/}"
    done
  done
}

# ---------------------------------------------------------------------------------------------
# HTTP, through curl (or wget). The token goes in a config file of the client (mode 0600), never
# on a command line another user could read with ps.

HTTP_TOOL=
HTTP_CONF=
HTTP_STATUS=
http_setup() {
  case $CFG_HTTP_CLIENT in
  curl | wget) HTTP_TOOL=$CFG_HTTP_CLIENT ;;
  *) if command -v curl >/dev/null 2>&1; then HTTP_TOOL=curl; else HTTP_TOOL=wget; fi ;;
  esac
  command -v "$HTTP_TOOL" >/dev/null 2>&1 || {
    say "neither curl nor wget is installed: nothing can be posted"
    return 1
  }
  [ -r "$CFG_TOKEN_FILE" ] || {
    say "cannot read the token file $CFG_TOKEN_FILE"
    return 1
  }
  hs_token=$(awk 'NR == 1 { sub(/\r$/, ""); print; exit }' "$CFG_TOKEN_FILE")
  case $hs_token in
  '' | *[!A-Za-z0-9._~+/=:-]*)
    say "the token in $CFG_TOKEN_FILE is not a bearer token (letters, digits and . _ ~ + / = : -)"
    return 1
    ;;
  esac
  if [ "${#hs_token}" -lt 16 ] || [ "${#hs_token}" -gt 4096 ]; then
    say "the token in $CFG_TOKEN_FILE is not 16 to 4096 characters long"
    return 1
  fi
  HTTP_CONF="$WORK/http.conf"
  if [ "$HTTP_TOOL" = curl ]; then
    {
      printf 'header = "Authorization: Bearer %s"\n' "$hs_token"
      printf 'user-agent = "faultline-agent-sh/%s"\n' "$AGENT_VERSION"
      if [ -n "$CFG_CA_BUNDLE" ]; then printf 'cacert = "%s"\n' "$CFG_CA_BUNDLE"; fi
    } >"$HTTP_CONF"
  else
    {
      printf 'header = Authorization: Bearer %s\n' "$hs_token"
      printf 'user_agent = faultline-agent-sh/%s\n' "$AGENT_VERSION"
      if [ -n "$CFG_CA_BUNDLE" ]; then printf 'ca_certificate = %s\n' "$CFG_CA_BUNDLE"; fi
    } >"$HTTP_CONF"
  fi
}

# http_call METHOD URL BODY_FILE OUT_FILE TIMEOUT: sets HTTP_STATUS; false when no answer came.
# The answer's headers land in $WORK/http.headers (curl -D) or $WORK/http.err (wget -S).
http_call() {
  HTTP_STATUS=
  : >"$4"
  : >"$WORK/http.headers"
  if [ "$HTTP_TOOL" = curl ]; then
    if [ "$1" = POST ]; then
      hc_status=$(curl -sS -K "$HTTP_CONF" --max-time "$5" -o "$4" -w '%{http_code}' -D "$WORK/http.headers" \
        -H 'Content-Type: text/plain; charset=utf-8' --data-binary "@$3" "$2" </dev/null 2>"$WORK/http.err")
    else
      hc_status=$(curl -sS -K "$HTTP_CONF" --max-time "$5" -o "$4" -w '%{http_code}' \
        -H 'Accept: text/plain' --max-filesize "$PLANS_MAX_BYTES" "$2" </dev/null 2>"$WORK/http.err")
    fi
  else
    if [ "$1" = POST ]; then
      wget -q -S --tries=1 --timeout="$5" --config="$HTTP_CONF" -O "$4" \
        --header='Content-Type: text/plain; charset=utf-8' --post-file="$3" "$2" </dev/null 2>"$WORK/http.err"
    else
      wget -q -S --tries=1 --timeout="$5" --config="$HTTP_CONF" -O "$4" --header='Accept: text/plain' \
        "$2" </dev/null 2>"$WORK/http.err"
    fi
    hc_status=$(awk '$1 ~ /^HTTP\// { status = $2 } END { print status }' "$WORK/http.err")
  fi
  case $hc_status in
  [1-5][0-9][0-9]) HTTP_STATUS=$hc_status ;;
  *) return 1 ;;
  esac
}

# The seconds of the last answer's Retry-After (delta-seconds only, at most an hour), or nothing.
retry_after() {
  awk -v max="$RETRY_AFTER_MAX_SECONDS" '{ sub(/\r$/, "") } tolower($1) == "retry-after:" { v = $2 }
    END { if (v ~ /^[0-9]+$/) { v = v + 0; if (v > max + 0) v = max + 0; print v } }' "$WORK/http.headers" "$WORK/http.err" 2>/dev/null
}

# Posts the spooled bodies in seq order, each removed once accepted. The first that cannot be
# delivered stops the flush, so nothing newer overtakes it (the control plane keeps only a body
# newer than the last it took). A body the control plane rejects as malformed (400, 413, 415,
# 422) is moved aside to rejected/ (the last ten are kept), so it cannot block the spool. A 429
# (the control plane's per-token rate limit) or 503 with Retry-After keeps the body and holds
# every post until then ($STATE/post-after, seconds since the epoch): collects made meanwhile,
# plan progress included, wait in the spool and go first, in order, once it has passed. The time
# is absolute and outlives a restart, so a clock stepped back (NTP on an LPAR that ran ahead)
# would stretch the wait by the step: one further ahead than any Retry-After honoured cannot have
# been asked for, and is dropped rather than leaving the host silent, heartbeats and all.
flush_spool() {
  [ -n "$HTTP_TOOL" ] || return 1
  if [ -s "$STATE/post-after" ]; then
    fs_after=$(awk 'NR == 1 && /^[0-9]+$/ { print; exit }' "$STATE/post-after")
    fs_now=$(now_epoch)
    if [ -n "$fs_after" ] && num_ge "$fs_after" "$fs_now" "$((RETRY_AFTER_MAX_SECONDS + 1))"; then
      say "dropped a Retry-After wait until $(format_time "$fs_after"), further ahead than ${RETRY_AFTER_MAX_SECONDS} s: the clock was stepped back since it was set"
    elif [ -n "$fs_after" ] && ! num_ge "$fs_now" "$fs_after"; then
      say "the control plane asked to wait until $(format_time "$fs_after") (Retry-After): collects kept in the spool"
      return 1
    fi
    rm -f "$STATE/post-after"
  fi
  lock_take "$STATE/flush.lock" "$1" || return 1
  fs_url="$CFG_API_URL/v1/agents/$CFG_HOST_ID/collect"
  fs_ok=0
  for fs_file in "$SPOOL"/*.collect; do
    [ -f "$fs_file" ] || continue
    if ! http_call POST "$fs_url" "$fs_file" "$WORK/post.out" "$2"; then
      say "cannot post ${fs_file##*/}: $(awk 'NR == 1' "$WORK/http.err" 2>/dev/null): kept in the spool"
      fs_ok=1
      break
    fi
    case $HTTP_STATUS in
    2??) rm -f "$fs_file" ;;
    400 | 413 | 415 | 422)
      say "collect ${fs_file##*/} rejected ($HTTP_STATUS): $(awk 'NR == 1 { print substr($0, 1, 300) }' "$WORK/post.out")"
      mv "$fs_file" "$STATE/rejected/" 2>/dev/null || rm -f "$fs_file"
      fs_count=0
      for fs_old in "$STATE/rejected"/*.collect; do fs_count=$((fs_count + 1)); done
      for fs_old in "$STATE/rejected"/*.collect; do
        [ "$fs_count" -gt 10 ] || break
        rm -f "$fs_old"
        fs_count=$((fs_count - 1))
      done
      ;;
    *)
      fs_wait=
      case $HTTP_STATUS in 429 | 503) fs_wait=$(retry_after) ;; esac
      if [ -n "$fs_wait" ]; then
        awk -v a="$(now_epoch)" -v b="$fs_wait" 'BEGIN { printf "%.0f\n", a + b }' >"$STATE/post-after"
        say "collect ${fs_file##*/} not taken ($HTTP_STATUS): kept in the spool; posting again in $fs_wait s (Retry-After)"
      else
        say "collect ${fs_file##*/} not taken ($HTTP_STATUS): kept in the spool"
      fi
      fs_ok=1
      break
      ;;
    esac
  done
  lock_release "$STATE/flush.lock"
  return "$fs_ok"
}

# A collect now: snapshot, spool, flush (waiting up to $1 seconds for another process's flush).
post_collect() {
  snapshot "$WORK/snapshot"
  spool_collect "$WORK/snapshot" "${2:-}" || return 1
  flush_spool "$1" "$CFG_REQUEST_TIMEOUT"
}

# ---------------------------------------------------------------------------------------------
# Progress: one line per step result, sent in the next collect's `progress` section.

progress() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >>"$STATE/progress.pending"
}

# Values checked again by the shell right before they reach a command line (the awk parser has
# checked them exactly; this keeps anything but letters and digits away from a command).
safe_mirror() {
  case $1 in
  d[0-9] | d[0-9][0-9] | d[0-9][0-9][0-9] | d[0-9][0-9][0-9][0-9] | d[0-9][0-9][0-9][0-9][0-9]) return 0 ;;
  esac
  return 1
}
safe_device() {
  case $1 in
  *[!A-Za-z0-9]*) return 1 ;;
  c[0-9]*d[0-9]*) [ "${#1}" -le 48 ] ;;
  *) return 1 ;;
  esac
}
safe_count() {
  case $1 in
  [1-9] | [1-4][0-9] | 50) return 0 ;;
  esac
  return 1
}

# ---------------------------------------------------------------------------------------------
# The host as the steps read it, afresh each time: metastat and metadb -i as records.

MS_OK=0
MDB_OK=0
read_svm() {
  MS_OK=0
  MDB_OK=0
  if command -v metastat >/dev/null 2>&1 && metastat </dev/null >"$WORK/ms.txt" 2>/dev/null; then
    awk -f "$WORK/lib.awk" -f "$WORK/metastat.awk" "$WORK/ms.txt" >"$WORK/ms.rec" && MS_OK=1
  fi
  [ "$MS_OK" -eq 1 ] || : >"$WORK/ms.rec"
  if command -v metadb >/dev/null 2>&1 && metadb -i </dev/null >"$WORK/mdb.txt" 2>/dev/null; then
    awk -f "$WORK/lib.awk" -f "$WORK/metadb.awk" "$WORK/mdb.txt" >"$WORK/mdb.rec" && MDB_OK=1
  fi
  [ "$MDB_OK" -eq 1 ] || : >"$WORK/mdb.rec"
}

# svm_check CHECK [name=value...]: the awk checks of svm.awk on the last reading.
svm_check() {
  sv_check=$1
  shift
  awk -v check="$sv_check" -v metadb_ok="$MDB_OK" -v ms="$WORK/ms.rec" -v mdb="$WORK/mdb.rec" "$@" \
    -f "$WORK/lib.awk" -f "$WORK/svm.awk" "$WORK/ms.rec" "$WORK/mdb.rec"
}

# R_OUTCOME, R_CODE, R_DETAIL: what a step ended with.
result() {
  R_OUTCOME=$1
  R_CODE=$2
  R_DETAIL=$3
}

# A tool run as a step's action: false (with the step's result set) when it is missing or fails.
run_action() {
  if ! command -v "$1" >/dev/null 2>&1; then
    result failed tool-missing "$*: not found"
    return 1
  fi
  "$@" </dev/null >"$WORK/action.out" 2>"$WORK/action.err"
  ra_status=$?
  if [ "$ra_status" -ne 0 ]; then
    result failed tool-failed "$*: exit $ra_status: $(awk 'NF { print; exit }' "$WORK/action.err" "$WORK/action.out")"
    return 1
  fi
  return 0
}

# ---------------------------------------------------------------------------------------------
# The steps (§4), each after its preconditions, re-read on the host. DRY=yes: check and report
# what would run (`skipped`), run nothing.

DRY=no
SYNCED=' '
PROBE_QUALIFIES=no

# disk.probe: the device node, and a direct read of the first block of its whole-disk slice with
# dd (agent/executor/disk-read.ts: `dd if=/dev/rdsk/<disk>s2 of=/dev/null bs=4096 count=1`, the
# raw device being uncached), killed after readTimeoutSeconds: a vdc disk whose service domain is
# away blocks its reader with the default vdc_timeout of 0. It only reads, so a dry-run runs it.
step_probe() {
  sp_node=
  for sp_candidate in "$ROOT_PREFIX/dev/rdsk/${1}s2" "$ROOT_PREFIX/dev/rdsk/${1}p0" "$ROOT_PREFIX/dev/dsk/${1}s2" "$ROOT_PREFIX/dev/$1"; do
    if [ -e "$sp_candidate" ]; then
      sp_node=$sp_candidate
      break
    fi
  done
  sp_readable=no
  sp_detail=
  if [ -n "$sp_node" ]; then
    disk_read "$1"
    sp_readable=$DR_READABLE
    sp_detail=" ($DR_DETAIL)"
  fi
  if [ -z "$sp_node" ]; then
    sp_state=gone
  elif [ "$sp_readable" = yes ]; then
    sp_state=running
  else
    sp_state=offline
  fi
  PROBE_QUALIFIES=no
  if [ "$sp_state" = running ] && [ "$sp_readable" = yes ]; then PROBE_QUALIFIES=yes; fi
  sp_readable_word=readable
  [ "$sp_readable" = yes ] || sp_readable_word="not readable"
  result succeeded '' "$1: $sp_state, $sp_readable_word$sp_detail"
}

DR_READABLE=no
DR_DETAIL=
disk_read() {
  DR_READABLE=no
  DR_DETAIL=
  safe_device "$1" || {
    DR_DETAIL="not a disk name"
    return 0
  }
  command -v dd >/dev/null 2>&1 || {
    DR_DETAIL="dd not found"
    return 0
  }
  rm -f "$WORK/dd.rc" "$WORK/dd.pid" "$WORK/dd.err"
  (
    dd if="/dev/rdsk/${1}s2" of=/dev/null bs=4096 count=1 2>"$WORK/dd.err" &
    printf '%s\n' "$!" >"$WORK/dd.pid"
    wait "$!"
    printf '%s\n' "$?" >"$WORK/dd.rc.tmp"
    mv "$WORK/dd.rc.tmp" "$WORK/dd.rc"
  ) </dev/null >/dev/null 2>&1 &
  dr_waited=0
  while [ ! -f "$WORK/dd.rc" ]; do
    if [ "$dr_waited" -ge "$CFG_READ_TIMEOUT" ]; then
      dr_pid=$(cat "$WORK/dd.pid" 2>/dev/null) || dr_pid=
      case $dr_pid in '' | *[!0-9]*) ;; *) kill -9 "$dr_pid" 2>/dev/null ;; esac
      DR_DETAIL="timed out after $CFG_READ_TIMEOUT s"
      return 0
    fi
    pause 1
    dr_waited=$((dr_waited + 1))
  done
  dr_rc=$(cat "$WORK/dd.rc")
  # Read when dd exits 0 having read a record (`1+0 records in`; GNU and SVR4 dd print it alike).
  if [ "$dr_rc" = 0 ] && awk -F '[+ ]' '/^[0-9]+\+[0-9]+ records in$/ && $1 + $2 > 0 { found = 1 } END { exit !found }' "$WORK/dd.err"; then
    DR_READABLE=yes
    DR_DETAIL="direct read: ok"
  else
    DR_DETAIL=$(awk '/^(dd: |read: )/ { print; found = 1; exit } END { if (!found) print "no record read" }' "$WORK/dd.err")
  fi
}

# What the branch $1's svm.metareplace steps re-enable, on one line: their mirrors or the disks
# of their components (`want`), all of them (for metareplace: every disk the plan repairs), or
# those before step $2 (for metadb-restore: what ran before it in this run).
branch_repairs() {
  awk -F "$TAB" -v branch="$1" -v before="$2" -v want="$3" -f "$WORK/lib.awk" -f "$WORK/repairs.awk" "$PARSED"
}

step_metareplace() {
  sm_mirror=$1
  sm_component=$2
  read_svm
  if [ "$MS_OK" -ne 1 ]; then
    result refused mirror-not-found "metastat gave no answer"
    return
  fi
  sm_verdict=$(svm_check metareplace -v mirror="$sm_mirror" -v component="$sm_component" \
    -v disks="$(branch_repairs "$3" '' disks)")
  case $sm_verdict in
  ok*) ;;
  refused"$TAB"*)
    sm_rest=${sm_verdict#refused"$TAB"}
    result refused "${sm_rest%%"$TAB"*}" "${sm_rest#*"$TAB"}"
    return
    ;;
  *)
    result failed internal-error "the preconditions could not be checked (awk gave no answer)"
    return
    ;;
  esac
  # A resync starts (or would): a wait-sync of this mirror before it no longer counts.
  SYNCED=$(printf '%s\n' "$SYNCED" | awk -v m="$sm_mirror" '{ n = split($0, w, " "); out = " "; for (i = 1; i <= n; i++) if (w[i] != m) out = out w[i] " "; print out }')
  if [ "$DRY" = yes ]; then
    result skipped '' "would run: metareplace -e $sm_mirror $sm_component (${sm_verdict#ok"$TAB"} Okay)"
    return
  fi
  if ! safe_mirror "$sm_mirror" || ! safe_device "$sm_component"; then
    result refused invalid-plan "unsafe names"
    return
  fi
  run_action metareplace -e "$sm_mirror" "$sm_component" || return
  read_svm
  sm_state=$(svm_check component -v mirror="$sm_mirror" -v component="$sm_component")
  case $sm_state in
  Resyncing | Okay) result succeeded '' "metareplace -e $sm_mirror $sm_component: $(awk 'NF { print; exit }' "$WORK/action.out") ($sm_component $sm_state)" ;;
  *) result failed not-applied "metareplace -e $sm_mirror $sm_component returned, but $sm_component is $sm_state" ;;
  esac
}

# svm.wait-sync: until every submirror is Okay; fails when a component goes Last Erred, when the
# resync makes no progress for stallSeconds, or when the stop file appears. Time is counted in
# the polls' sleeps, which no clock step moves. A collect goes out every intervalSeconds, so the
# control plane sees the resync progress.
step_wait_sync() {
  ws_mirror=$1
  ws_stall=$2
  if [ "$DRY" = yes ]; then
    read_svm
    if [ "$(svm_check mirror -v mirror="$ws_mirror")" != yes ]; then
      result refused mirror-not-found "$ws_mirror is not an SVM mirror on this host"
      return
    fi
    SYNCED="$SYNCED$ws_mirror "
    result skipped '' "would run: wait until every submirror of $ws_mirror is Okay, failing after $ws_stall s without progress"
    return
  fi
  ws_elapsed=0
  ws_best=-1
  ws_changed=0
  ws_posted=0
  while :; do
    if [ -e "$CFG_STOP_FILE" ]; then
      result failed stop-file "the stop file appeared while waiting for $ws_mirror"
      return
    fi
    read_svm
    if [ "$MS_OK" -ne 1 ]; then
      result failed mirror-not-found "$ws_mirror is not listed by metastat"
      return
    fi
    ws_state=$(svm_check sync -v mirror="$ws_mirror")
    case $ws_state in
    missing)
      result failed mirror-not-found "$ws_mirror is not listed by metastat"
      return
      ;;
    done)
      SYNCED="$SYNCED$ws_mirror "
      result succeeded '' "every submirror of $ws_mirror is Okay after $ws_elapsed s"
      return
      ;;
    erred*)
      result failed last-erred "${ws_state#erred"$TAB"} of $ws_mirror went Last Erred"
      return
      ;;
    progress*) ;;
    *)
      result failed internal-error "the state of $ws_mirror could not be read (awk gave no answer)"
      return
      ;;
    esac
    ws_progress=${ws_state#progress"$TAB"}
    if [ "$ws_progress" != - ] && awk -v p="$ws_progress" -v b="$ws_best" 'BEGIN { exit !(p + 0 > b + 0) }'; then
      ws_best=$ws_progress
      ws_changed=$ws_elapsed
    fi
    if [ $((ws_elapsed - ws_changed)) -ge "$ws_stall" ]; then
      if [ "$ws_best" = -1 ]; then ws_where="no resync running"; else ws_where="stuck at $ws_best%"; fi
      result failed sync-stalled "$ws_mirror: no progress for $ws_stall s ($ws_where)"
      return
    fi
    if [ $((ws_elapsed - ws_posted)) -ge "$CFG_INTERVAL" ]; then
      ws_posted=$ws_elapsed
      post_collect 2 >/dev/null 2>&1
    fi
    pause "$CFG_SYNC_POLL"
    ws_elapsed=$((ws_elapsed + CFG_SYNC_POLL))
  done
}

# svm.metadb-restore: `metadb -d <slice>` then `metadb -a -c <count> <slice>` (never -f), only
# after this run's wait-sync of every mirror the plan re-enabled before it succeeded, of a slice
# on a disk it repaired, whose replicas are all in error while those on the other disks are
# active and at least half of all, `count` equal to the replicas on it now.
step_metadb_restore() {
  mr_slice=$1
  mr_count=$2
  mr_mirrors=$(branch_repairs "$3" "$4" mirrors)
  mr_unsynced=
  for mr_mirror in $mr_mirrors; do
    case $SYNCED in *" $mr_mirror "*) ;; *) mr_unsynced="$mr_unsynced $mr_mirror" ;; esac
  done
  if [ -z "$mr_mirrors" ]; then
    result refused wait-sync-not-succeeded "this plan re-enabled no SVM component before this step: no resync to wait for"
    return
  fi
  if [ -n "$mr_unsynced" ]; then
    result refused wait-sync-not-succeeded "no svm.wait-sync of${mr_unsynced} succeeded in this run before this step"
    return
  fi
  mr_disks=$(branch_repairs "$3" "$4" disks)
  mr_disk=$(awk -v op=disk -v a="$mr_slice" -f "$WORK/lib.awk" -f "$WORK/calc.awk")
  case " $mr_disks " in
  *" $mr_disk "*) [ "$mr_disk" != "$mr_slice" ] || mr_disk= ;;
  *) mr_disk= ;;
  esac
  if [ -z "$mr_disk" ]; then
    result refused slice-not-on-repaired-disk "$mr_slice is not a slice of a disk this plan repaired ($mr_disks)"
    return
  fi
  read_svm
  if [ "$MDB_OK" -ne 1 ]; then
    result refused metadb-unreadable "metadb gave no answer"
    return
  fi
  mr_verdict=$(svm_check restore -v slice="$mr_slice" -v count="$mr_count" -v disks="$mr_disks")
  case $mr_verdict in
  ok*) mr_state=${mr_verdict#ok"$TAB"} ;;
  refused"$TAB"*)
    mr_rest=${mr_verdict#refused"$TAB"}
    result refused "${mr_rest%%"$TAB"*}" "${mr_rest#*"$TAB"}"
    return
    ;;
  *)
    result failed internal-error "the preconditions could not be checked (awk gave no answer)"
    return
    ;;
  esac
  if [ "$DRY" = yes ]; then
    result skipped '' "would run: metadb -d $mr_slice; metadb -a -c $mr_count $mr_slice ($mr_state)"
    return
  fi
  if ! safe_device "$mr_slice" || ! safe_count "$mr_count"; then
    result refused invalid-plan "unsafe names"
    return
  fi
  run_action metadb -d "$mr_slice" || return
  if ! run_action metadb -a -c "$mr_count" "$mr_slice"; then
    R_DETAIL="$R_DETAIL; the replicas of $mr_slice were deleted and not re-created"
    return
  fi
  read_svm
  mr_now=$(svm_check slice -v slice="$mr_slice")
  if [ "$mr_now" != "$mr_count$TAB$mr_count" ]; then
    result failed not-applied "metadb -d $mr_slice and metadb -a -c $mr_count $mr_slice returned, but $mr_slice holds ${mr_now%%"$TAB"*} replicas, ${mr_now#*"$TAB"} active"
    return
  fi
  result succeeded '' "metadb -d $mr_slice; metadb -a -c $mr_count $mr_slice: $mr_count replicas on $mr_slice active"
}

# ---------------------------------------------------------------------------------------------
# Plans: fetched in lines, each verified and admitted (agent/executor/plan-admission.ts, in its
# order and with its codes), run at most once (the ledger), its steps reported as progress.

PARSED=
P_ID=
P_MODE=
CYCLE_RAN_PLAN=no
# The plan whose steps run now: the collects spooled meanwhile carry it as `planid`.
RUNNING_PLAN=
# The Solaris capabilities (agent/executor/plan-runner.ts capabilitiesFor('solaris')).
CAPABILITIES='disk.probe svm.metareplace svm.wait-sync svm.metadb-restore'

# A plan refused before any step ran: `refused` at step 0 (§3), once per plan and code, so a plan
# served again (a replay, a plan the control plane has not seen finish) is not reported at every
# poll. A plan whose id cannot be read is logged only.
refuse_plan() {
  say "plan ${2:-(no id)} refused: $1: $3"
  [ -n "$2" ] || return 0
  [ ! -e "$LEDGER/reported/$2.$1" ] || return 0
  progress "$2" 0 disk.probe refused "$1" steps
  : >"$LEDGER/reported/$2.$1"
}

# num_ge A B [C]: whether A >= B + C, in awk (epoch sums outgrow 32-bit shell arithmetic in 2038).
num_ge() { awk -v a="$1" -v b="$2" -v c="${3:-0}" 'BEGIN { exit !(a + 0 >= b + c) }'; }

# The signature: base64 DER ECDSA P-256 over exactly the plan's lines before its sig line,
# verified with the host's openssl against the configured public key.
verify_signature() {
  vs_sig=$(cat "$1.sig" 2>/dev/null) || return 1
  case $vs_sig in '' | *[!A-Za-z0-9+/=]*) return 1 ;; esac
  [ "${#vs_sig}" -ge 16 ] && [ "${#vs_sig}" -le 260 ] || return 1
  command -v openssl >/dev/null 2>&1 || return 1
  openssl base64 -d -A -in "$1.sig" -out "$1.der" </dev/null >/dev/null 2>&1 || return 1
  [ -s "$1.der" ] || return 1
  low_s "$1.der" || return 1
  openssl dgst -sha256 -verify "$CFG_PLAN_KEY" -signature "$1.der" "$1.lines" </dev/null >/dev/null 2>&1
}

# One canonical form per plan (events/signing.ts): an ECDSA signature (r, s) has a twin (r, n - s)
# that verifies as well, so the control plane signs only with s in the low half (s <= n/2 of
# P-256) and this agent refuses the other, as the Node agent does. `openssl asn1parse` prints the
# DER as a SEQUENCE of two INTEGERs, each in hex without leading zeros; awk compares s with n/2 as
# strings of equal length (hex digits sort as their values in the C locale), as no shell or awk
# here holds a 256-bit number. OpenSSL's own verify refuses a DER that is not minimal.
P256_HALF_ORDER=7FFFFFFF800000007FFFFFFFFFFFFFFFDE737D56D38BCF4279DCE5617E3192A8
low_s() {
  openssl asn1parse -inform DER -in "$1" </dev/null 2>/dev/null | awk -v half="$P256_HALF_ORDER" '
    { lines++ }
    lines == 1 { if ($0 !~ /d=0/ || $0 !~ /SEQUENCE/) bad = 1; next }
    /d=1/ && /prim: *INTEGER/ { integers++; value = $0; sub(/^.*:/, "", value); if (integers == 2) s = value; next }
    { bad = 1 }
    END {
      if (bad || lines != 3 || integers != 2) exit 1
      s = toupper(s)
      sub(/^0+/, "", s)
      if (s == "" || s ~ /[^0-9A-F]/ || length(s) > length(half)) exit 1
      if (length(s) < length(half)) exit 0
      exit !((s "") <= (half ""))
    }'
}

admit_and_run() {
  ar_base="$WORK/plans/$1"
  PARSED="$ar_base.parsed"
  if [ -f "$ar_base.lines" ]; then
    awk -f "$WORK/lib.awk" -f "$WORK/plan.awk" "$ar_base.lines" >"$PARSED" 2>/dev/null || printf 'E\tawk failed\n' >"$PARSED"
  else
    printf 'E\tno lines\n' >"$PARSED"
  fi
  IFS="$TAB" read -r ar_tag P_ID ar_incident ar_host ar_boot ar_attempt ar_wave ar_issued ar_ttl P_MODE <"$PARSED"
  if [ "$ar_tag" != H ] || [ "$2" != ok ]; then
    ar_why=$3
    if [ "$ar_tag" = E ]; then
      ar_why=$P_ID
      P_ID=$(awk -F "$TAB" '$1 == "I" { print $2 }' "$PARSED")
    fi
    refuse_plan invalid-plan "$P_ID" "not a plan: $ar_why"
    return
  fi
  if [ -z "$CFG_PLAN_KEY" ]; then
    refuse_plan no-plan-key "$P_ID" "no planPublicKey is configured: this agent runs no plan"
    return
  fi
  if ! verify_signature "$ar_base"; then
    refuse_plan bad-signature "$P_ID" "the signature does not verify with the configured key"
    return
  fi
  if [ "$ar_host" != "$CFG_HOST_ID" ]; then
    refuse_plan wrong-host "$P_ID" "the plan is for $ar_host, this host is $CFG_HOST_ID"
    return
  fi
  if [ "$ar_boot" != - ] && [ "$ar_boot" != "$BOOT_ID" ]; then
    refuse_plan wrong-boot "$P_ID" "the plan is for boot $ar_boot, this is $BOOT_ID"
    return
  fi
  if [ -n "$BOOTED_EPOCH" ] && ! num_ge "$ar_issued" "$BOOTED_EPOCH" "$BOOT_GRACE_SECONDS"; then
    refuse_plan wrong-boot "$P_ID" "issued before this boot ($BOOT_ID, up since $BOOTED_AT) was known to the control plane"
    return
  fi
  if [ ! -d "$LEDGER/received" ] || [ ! -w "$LEDGER/received" ] || [ ! -w "$LEDGER/runs" ]; then
    refuse_plan ledger-unavailable "$P_ID" "$LEDGER cannot be written: at-most-once cannot be promised"
    return
  fi
  ar_receipt="$LEDGER/received/$P_ID"
  if [ ! -f "$ar_receipt" ]; then
    printf '%s %s\n' "$PLANS_RECEIVED_AT" "$BOOT_ID" >"$ar_receipt.$$" && mv "$ar_receipt.$$" "$ar_receipt"
  fi
  ar_first=
  ar_first_boot=
  read -r ar_first ar_first_boot <"$ar_receipt"
  case $ar_first in '' | *[!0-9]*) ar_first=$PLANS_RECEIVED_AT ;; esac
  if [ "$ar_first_boot" != "$BOOT_ID" ]; then
    refuse_plan wrong-boot "$P_ID" "first received during boot $ar_first_boot, this is $BOOT_ID"
    return
  fi
  DRY=no
  if [ "$P_MODE" = dry-run ] || [ "$CFG_DRY_RUN" = true ]; then
    DRY=yes
    P_MODE=dry-run
  fi
  ar_run="$LEDGER/runs/$P_ID.$P_MODE"
  if [ -d "$ar_run" ]; then
    refuse_plan already-run "$P_ID" "plan $P_ID ($P_MODE) already ran on this host"
    return
  fi
  ar_now=$(now_epoch)
  if num_ge "$ar_now" "$ar_first" "$ar_ttl"; then
    refuse_plan expired "$P_ID" "first received $(format_time "$ar_first"); its TTL is $ar_ttl s"
    return
  fi
  if num_ge "$ar_now" "$ar_issued" "$((ar_ttl + ISSUE_SKEW_SECONDS + 1))"; then
    refuse_plan expired "$P_ID" "issued $(format_time "$ar_issued"), more than its TTL ($ar_ttl s) and $ISSUE_SKEW_SECONDS s of clock skew ago"
    return
  fi
  ar_unsupported=$(awk -F "$TAB" -v can="$CAPABILITIES" '
    BEGIN { n = split(can, list, " "); for (i = 1; i <= n; i++) ok[list[i]] = 1 }
    $1 == "S" && !($4 in ok) && !($4 in seen) { seen[$4] = 1; out = out (out == "" ? "" : ", ") $4 }
    END { print out }' "$PARSED")
  if [ -n "$ar_unsupported" ]; then
    refuse_plan unsupported-action "$P_ID" "this agent cannot run $ar_unsupported"
    return
  fi
  if [ -e "$CFG_STOP_FILE" ]; then
    refuse_plan stop-file "$P_ID" "the stop file $CFG_STOP_FILE exists: no plan runs"
    return
  fi
  # The run is recorded (atomically, then synced) before its first step: a crash never runs it twice.
  if ! mkdir "$ar_run" 2>/dev/null; then
    refuse_plan already-run "$P_ID" "plan $P_ID ($P_MODE) already ran on this host"
    return
  fi
  printf 'started %s boot %s\n' "$(format_time "$ar_now")" "$BOOT_ID" >"$ar_run/record"
  sync 2>/dev/null
  say "plan $P_ID admitted ($P_MODE, incident $ar_incident, attempt $ar_attempt, wave $ar_wave)"
  CYCLE_RAN_PLAN=yes
  RUNNING_PLAN=$P_ID
  run_plan
  RUNNING_PLAN=
  say "plan $P_ID $PLAN_OUTCOME"
  printf 'finished %s %s\n' "$(format_time "$(now_epoch)")" "$PLAN_OUTCOME" >>"$ar_run/record"
}

# One step with its reports: `started`, then its outcome; true when the plan may go on.
perform() {
  progress "$P_ID" "$1" "$3" started '' "$2"
  # A wait may last long: the control plane hears that it started before it ends.
  if [ "$3" = svm.wait-sync ]; then post_collect 2; fi
  if [ -e "$CFG_STOP_FILE" ]; then
    result refused stop-file "the local stop file exists: no further step runs"
  else
    case $3 in
    disk.probe) step_probe "$4" ;;
    svm.metareplace) step_metareplace "$4" "$5" "$2" ;;
    svm.wait-sync) step_wait_sync "$4" "$5" ;;
    svm.metadb-restore) step_metadb_restore "$4" "$5" "$2" "$1" ;;
    *) result refused unsupported-action "this agent cannot run $3" ;;
    esac
  fi
  say "plan $P_ID step $1 ($2) $3: $R_OUTCOME${R_CODE:+ ($R_CODE)}: $R_DETAIL"
  progress "$P_ID" "$1" "$3" "$R_OUTCOME" "$R_CODE" "$2"
  post_collect 2
  case $R_OUTCOME in succeeded | skipped) return 0 ;; esac
  return 1
}

# Every disk.probe at the start of `steps` first (one per disk the plan covers), then the fast
# path if the plan has one and every probed disk runs and reads, else the rest of `steps`; the
# plan stops at the first step that fails or is refused.
PLAN_OUTCOME=
run_plan() {
  SYNCED=' '
  PLAN_OUTCOME=succeeded
  rp_has_fast=no
  if grep -q "^S${TAB}fastPath${TAB}" "$PARSED"; then rp_has_fast=yes; fi
  rp_probes=0
  rp_slow=
  while IFS="$TAB" read -r rp_tag rp_branch rp_index rp_action rp_first rp_second <&3; do
    [ "$rp_tag" = S ] || continue
    if [ "$rp_branch" != steps ] || [ "$rp_action" != disk.probe ]; then break; fi
    if ! perform "$rp_index" steps "$rp_action" "$rp_first" "$rp_second"; then
      PLAN_OUTCOME="$R_OUTCOME at step $rp_index ($R_CODE)"
      return
    fi
    [ "$PROBE_QUALIFIES" = yes ] || rp_slow="$rp_slow $rp_first"
    rp_probes=$((rp_probes + 1))
  done 3<"$PARSED"
  rp_take=steps
  if [ "$rp_has_fast" = yes ] && [ -z "$rp_slow" ]; then rp_take=fastPath; fi
  while IFS="$TAB" read -r rp_tag rp_branch rp_index rp_action rp_first rp_second <&3; do
    if [ "$rp_tag" != S ] || [ "$rp_branch" != "$rp_take" ]; then continue; fi
    if [ "$rp_take" = steps ] && [ "$rp_index" -lt "$rp_probes" ]; then continue; fi
    if ! perform "$rp_index" "$rp_take" "$rp_action" "$rp_first" "$rp_second"; then
      PLAN_OUTCOME="$R_OUTCOME at step $rp_index ($R_CODE)"
      return
    fi
  done 3<"$PARSED"
  PLAN_OUTCOME="succeeded on $rp_take"
}

PLANS_RECEIVED_AT=
handle_plans() {
  [ -n "$HTTP_TOOL" ] || return 0
  hp_url="$CFG_API_URL/v1/agents/$CFG_HOST_ID/plans?format=lines"
  if ! http_call GET "$hp_url" /dev/null "$WORK/plans.txt" "$CFG_REQUEST_TIMEOUT"; then
    say "cannot fetch plans: $(awk 'NR == 1' "$WORK/http.err" 2>/dev/null)"
    return 0
  fi
  case $HTTP_STATUS in
  200) ;;
  204 | 404) return 0 ;;
  *)
    say "plans not fetched ($HTTP_STATUS): $(awk 'NR == 1 { print substr($0, 1, 300) }' "$WORK/plans.txt")"
    return 0
    ;;
  esac
  if [ "$(wc -c <"$WORK/plans.txt" | tr -d ' \t')" -gt "$PLANS_MAX_BYTES" ]; then
    say "the plans answer exceeds $PLANS_MAX_BYTES bytes: none is read"
    return 0
  fi
  PLANS_RECEIVED_AT=$(now_epoch)
  rm -rf "$WORK/plans"
  mkdir "$WORK/plans" || return 0
  awk -v dir="$WORK/plans" -f "$WORK/split.awk" "$WORK/plans.txt" >"$WORK/plans.index" 2>/dev/null || {
    say "the plans answer cannot be read"
    return 0
  }
  while IFS="$TAB" read -r hp_number hp_state hp_why <&4; do
    admit_and_run "$hp_number" "$hp_state" "$hp_why"
  done 4<"$WORK/plans.index"
}

prune_ledger() {
  for pl_dir in "$LEDGER/received" "$LEDGER/reported" "$LEDGER/runs"; do
    find "$pl_dir/." ! -name . -prune -mtime +"$LEDGER_RETENTION_DAYS" -exec rm -rf {} \; 2>/dev/null
  done
}

# ---------------------------------------------------------------------------------------------
# Commands

usage() {
  printf '%s\n' \
    'usage: faultline-agent.sh run [--config FILE] [--once]' \
    '       faultline-agent.sh scan [--config FILE]' \
    '       faultline-agent.sh announce going-down [--config FILE] [REASON...]' \
    '       faultline-agent.sh version' >&2
  exit "${1:-2}"
}

cmd_scan() {
  load_config
  STATE=$CFG_STATE_DIR
  read_boot
  snapshot "$WORK/snapshot"
  cs_pair=$(next_seq peek)
  host_section "${cs_pair%%"$TAB"*}"
  cat "$WORK/snapshot"
  if [ -s "$STATE/progress.pending" ] && [ -r "$STATE/progress.pending" ]; then
    printf '#faultline progress\n'
    cat "$STATE/progress.pending"
  fi
}

cmd_run() {
  load_config
  need_api
  state_init
  read_boot
  if ! lock_take "$STATE/run.lock" 0; then
    cr_holder=$(cat "$STATE/run.lock/pid" 2>/dev/null)
    # From cron, a cycle that finds the last one still running (a plan waiting for a resync) is
    # not an error: that one collects and posts meanwhile.
    if [ "$OPT_ONCE" = yes ]; then
      say "another run (pid $cr_holder) is in progress: this one leaves it the work"
      exit 0
    fi
    die "another run holds $STATE/run.lock (pid $cr_holder)"
  fi
  say "run: host $CFG_HOST_ID ($CFG_ROLE), boot $BOOT_ID, every $CFG_INTERVAL s, state in $STATE"
  while :; do
    CYCLE_RAN_PLAN=no
    http_setup || HTTP_TOOL=
    post_collect 5
    handle_plans
    if [ -s "$STATE/progress.pending" ]; then post_collect 5; fi
    prune_ledger
    [ "$OPT_ONCE" = no ] || break
    # After a plan ran, the next one (or the control plane's next wave) is asked for soon.
    if [ "$CYCLE_RAN_PLAN" = yes ]; then pause 1; else pause "$CFG_INTERVAL"; fi
  done
}

cmd_announce() {
  ca_words=$1
  case $ca_words in
  going-down) ca_reason= ;;
  going-down' '*) ca_reason=${ca_words#going-down } ;;
  *) usage ;;
  esac
  load_config
  need_api
  state_init
  read_boot
  # The reason as one line of safe characters, at most 200 of them.
  FAULTLINE_REASON=$ca_reason
  export FAULTLINE_REASON
  ca_reason=$(awk 'BEGIN { r = ENVIRON["FAULTLINE_REASON"]; gsub(/[^A-Za-z0-9 ._:\/@+,()=-]/, "_", r); gsub(/  +/, " ", r); sub(/^ /, "", r); sub(/ $/, "", r); print substr(r, 1, 200) }')
  http_setup || HTTP_TOOL=
  snapshot "$WORK/snapshot"
  spool_collect "$WORK/snapshot" "going-down${ca_reason:+ $ca_reason}" || die "the announcement cannot be spooled"
  if flush_spool "$CFG_ANNOUNCE_WAIT" "$CFG_ANNOUNCE_WAIT"; then
    say "announced going-down"
  else
    say "going-down spooled: the next run sends it"
  fi
}

main() {
  [ $# -gt 0 ] || usage
  m_command=$1
  shift
  OPT_ONCE=no
  m_rest=
  while [ $# -gt 0 ]; do
    case $1 in
    --config)
      [ $# -ge 2 ] || usage
      CONFIG_FILE=$2
      shift 2
      ;;
    --config=*)
      CONFIG_FILE=${1#--config=}
      shift
      ;;
    --once)
      OPT_ONCE=yes
      shift
      ;;
    *)
      m_rest="${m_rest:+$m_rest }$1"
      shift
      ;;
    esac
  done
  case $m_command in
  run) [ -z "$m_rest" ] || usage && cmd_run ;;
  scan) [ -z "$m_rest" ] || usage && cmd_scan ;;
  announce) cmd_announce "$m_rest" ;;
  version) printf '%s\n' "$AGENT_VERSION" ;;
  help | -h | --help) usage 0 ;;
  *) usage ;;
  esac
}

main "$@"
