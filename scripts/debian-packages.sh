#!/usr/bin/env bash
# The Debian packages the tests need beyond Node (npm test runs this first, as `pretest`):
# dash, busybox and ksh run the sh agent (agent/sh/) under each shell it supports, shellcheck lints
# it, openssl and curl are the tools it uses on a host; chromium is the headless browser the web
# page's end-to-end test drives (test/e2e/web-page.test.ts, through playwright-core); chattr
# (e2fsprogs) makes a database file immutable under a running control plane, the one way to refuse
# writes to a file already open, even to root (test/local/storage-faults.test.ts). Installs what
# is missing when it can (root with apt-get), else says what to install and fails.
set -euo pipefail
wanted=(dash:dash busybox:busybox ksh:ksh shellcheck:shellcheck openssl:openssl curl:curl chromium:chromium chattr:e2fsprogs)
missing=()
for pair in "${wanted[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages the tests need: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "the tests need these Debian packages: ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
exit 1
