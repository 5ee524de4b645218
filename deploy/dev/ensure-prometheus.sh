#!/usr/bin/env bash
# Make sure Debian's prometheus package (prometheus + promtool) is installed.
# Installs it with apt-get when missing and we are root; otherwise says how.
set -euo pipefail
if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
  exit 0
fi
if [[ "$(id -u)" -ne 0 ]]; then
  echo "prometheus/promtool missing: run 'sudo apt-get install prometheus' (Debian/Ubuntu)" >&2
  exit 1
fi
echo "installing Debian's prometheus package (prometheus, promtool)..." >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# the package starts a system service on some hosts; the tests run their own server
systemctl stop prometheus 2>/dev/null || service prometheus stop 2>/dev/null || true
command -v promtool >/dev/null
