#!/usr/bin/env bash
# Check the Prometheus config and alert rules of deploy/prometheus with promtool
# (Debian package `prometheus`), and run the rule unit tests.
#   bash .ci/promtool.sh          # from anywhere inside the repo
# Exits non-zero on the first failure. Installs nothing: .ci/run installs the package.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prom="$root/deploy/prometheus"

command -v promtool >/dev/null || {
  echo "promtool: not found (apt-get install -y prometheus)" >&2
  exit 1
}
promtool --version 2>&1 | head -n 1

shopt -s nullglob
rules=("$prom"/rules/*.yml)
tests=("$prom"/tests/*.yml)
(( ${#rules[@]} )) || { echo "promtool: no rule files in $prom/rules" >&2; exit 1; }
(( ${#tests[@]} )) || { echo "promtool: no rule tests in $prom/tests" >&2; exit 1; }

echo "== promtool check config"
promtool check config "$prom/prometheus.yml"
echo "== promtool check rules"
promtool check rules "${rules[@]}"
echo "== promtool test rules"
(cd "$prom/tests" && promtool test rules "${tests[@]##*/}")

# every alert must be named in a rule test that expects it to fire
missing=0
while read -r alert; do
  if ! grep -q "alertname: $alert\$" "${tests[@]}"; then
    echo "promtool: alert $alert has no unit test in $prom/tests" >&2
    missing=1
  fi
done < <(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "${rules[@]}")
(( missing == 0 )) || exit 1
echo "promtool: config, rules and rule tests OK"
