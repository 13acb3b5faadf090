#!/usr/bin/env bash
# make demo: the lab domain with its faults, and the exporter serving on localhost:10088.
# Ctrl-C stops everything and removes the lab.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${VENV:-$ROOT/.venv}/bin/python"
LAB_NAME="${LAB_NAME:-adlab}"
export LAB_NAME
PORT="${DEMO_PORT:-10088}"
PROM_PORT="${DEMO_PROMETHEUS_PORT:-9090}"
AM_PORT="${DEMO_ALERTMANAGER_PORT:-9093}"

"$ROOT/lab/labctl" up
STACK_PID=""
cleanup() {
    if [[ -n "$STACK_PID" ]]; then kill "$STACK_PID" 2>/dev/null || true; wait "$STACK_PID" 2>/dev/null || true; fi
    "$ROOT/lab/labctl" down
}
trap cleanup EXIT

STATE="$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); from adlab import Lab; print(Lab.load(name=sys.argv[2]).info.state_dir)' "$ROOT/lab" "$LAB_NAME")"
CONFIG="$STATE/exporter.yml"
"$PY" "$ROOT/scripts/lab_config.py" --lab-name "$LAB_NAME" --demo --interval time=15s --interval replication=15s \
    --interval inventory=15s --interval kerberos=30s "$CONFIG" >/dev/null

# Prometheus loads the alert rules and scrapes the exporter; Alertmanager receives the alerts.
"$PY" "$ROOT/scripts/monitoring_stack.py" "$STATE/monitoring" "127.0.0.1:$PORT" \
    --prometheus-port "$PROM_PORT" --alertmanager-port "$AM_PORT" &
STACK_PID=$!

cat <<MSG

  The lab domain is up, with its faults injected (see lab/README.md).
  Exporter configuration: $CONFIG

  Metrics:      http://localhost:$PORT/metrics
  Status page:  http://localhost:$PORT/
  Prometheus:   http://localhost:$PROM_PORT/alerts   (rules from alerts/ad-health.rules.yml)
  Alertmanager: http://localhost:$AM_PORT/
  Report:       $PY -m ad_health_exporter check --config.file $CONFIG
  Faults:       $ROOT/lab/labctl skew dc2 +7m | stop-dc dc2 | start-dc dc2 | unskew dc2
                $ROOT/lab/labctl stop-kdc dc2 | start-kdc dc2   (the kerberos check: kdc_up 0, LDAP still up)
                $ROOT/lab/labctl disable-repl dc2 inbound; $ROOT/lab/labctl reset-password dc1 PC-HEALTHY
                (dc1's KDC issues the new key version, dc2's the old one) | enable-repl dc2 inbound

  Ctrl-C stops the exporter, Prometheus and Alertmanager, and removes the lab.

MSG
"$PY" -m ad_health_exporter --config.file "$CONFIG" --web.listen-address "127.0.0.1:$PORT"
