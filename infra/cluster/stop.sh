#!/usr/bin/env bash
# Stop the cluster started by infra/cluster/start.sh (workers first, then the master).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
state=${CSMETRICS_CLUSTER_DIR:-$root/var/cluster}
shopt -s nullglob
for pidfile in "$state"/worker-*.pid "$state"/master.pid; do
  [[ -f $pidfile ]] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
done
echo "cluster stopped"
