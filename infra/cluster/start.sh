#!/usr/bin/env bash
# Start a Spark standalone cluster on this machine from the installed pyspark:
# one master and N workers, each a background process with a pid file and a log.
#
#   infra/cluster/start.sh [WORKERS]        prints the master URL (spark://HOST:PORT) when all are up
#
# Environment (defaults): CLUSTER_HOST (127.0.0.1), CLUSTER_PORT (7077), CLUSTER_UI_PORT (8080),
# WORKER_CORES (1), WORKER_MEMORY (2g), CSMETRICS_CLUSTER_DIR (var/cluster: pids, logs, work dirs).
# Stop it with infra/cluster/stop.sh. Spark settings for jobs: infra/cluster/conf/spark-defaults.conf.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
workers=${1:-2}
host=${CLUSTER_HOST:-127.0.0.1}
port=${CLUSTER_PORT:-7077}
ui_port=${CLUSTER_UI_PORT:-8080}
cores=${WORKER_CORES:-1}
memory=${WORKER_MEMORY:-2g}
state=${CSMETRICS_CLUSTER_DIR:-$root/var/cluster}
python=$root/.venv/bin/python
[[ -x $python ]] || { echo "start.sh: $python missing; run bin/setup first" >&2; exit 1; }

export SPARK_HOME=$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export SPARK_CONF_DIR=$root/infra/cluster/conf
export SPARK_LOCAL_IP=$host
# Executors run Python (if ever) with the project's interpreter.
export PYSPARK_PYTHON=$python
mkdir -p "$state/logs" "$state/work"
if [[ -f $state/master.pid ]] && kill -0 "$(cat "$state/master.pid")" 2>/dev/null; then
  echo "start.sh: a cluster is already running (pid $(cat "$state/master.pid")); stop it with infra/cluster/stop.sh" >&2
  exit 1
fi

nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
  --host "$host" --port "$port" --webui-port "$ui_port" >"$state/logs/master.log" 2>&1 &
echo $! >"$state/master.pid"
for i in $(seq 1 "$workers"); do
  nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
    --host "$host" --cores "$cores" --memory "$memory" --work-dir "$state/work/worker-$i" \
    --webui-port $((ui_port + i)) "spark://$host:$port" >"$state/logs/worker-$i.log" 2>&1 &
  echo $! >"$state/worker-$i.pid"
done

# Up when every worker has registered with the master (its JSON status page counts them).
alive_workers() {
  "$python" -c 'import json, sys, urllib.request
try:
    print(json.load(urllib.request.urlopen(f"http://{sys.argv[1]}/json/", timeout=2))["aliveworkers"])
except Exception:
    print(0)' "$host:$ui_port"
}
for _ in $(seq 1 120); do
  if [[ $(alive_workers) -ge $workers ]]; then
    echo "spark://$host:$port"
    exit 0
  fi
  sleep 1
done
echo "start.sh: the cluster did not come up in 120 s; see $state/logs/" >&2
"$root/infra/cluster/stop.sh" >/dev/null 2>&1 || true
exit 1
