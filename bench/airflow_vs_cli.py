"""One `csmetrics_daily` run under Airflow's scheduler against `csmetrics run` of the same day.

Generates one day of --shops shops under WORK, then times, each on an empty warehouse:
`csmetrics run` in a new process, the day's dag run under a real Airflow deployment (the
scheduler test's: scheduler, DAG processor, API server, LocalExecutor, SQLite; `airflow
backfill create` of the day), and `csmetrics run` again. Spark's production settings unless
CSMETRICS_SPARK_CONF says otherwise. Prints the three walls and the ratio (issue 29's target:
at most 1.3x).

    .venv/bin/python bench/airflow_vs_cli.py /tmp/airflow-vs-cli
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 3, 2)


def cli_run(env: dict[str, str], warehouse: Path, run_id: str) -> float:
    started = time.monotonic()
    subprocess.run(
        [str(ROOT / ".venv/bin/csmetrics"), "run", "--date", str(DAY), "--run-id", run_id],
        env=env | {"CSMETRICS_WAREHOUSE": str(warehouse)}, check=True, capture_output=True,
    )
    return time.monotonic() - started


def dag_run(env: dict[str, str], home: Path, warehouse: Path) -> tuple[float, dict[str, float]]:
    """The dag run's wall (start to end, from Airflow's database) and its tasks' durations."""
    sys.path.insert(0, str(ROOT))
    from tests.dag.test_scheduled_runs import Airflow

    home.mkdir(parents=True)
    airflow = Airflow(home, {k: v for k, v in env.items() if k.startswith("CSMETRICS_")} | {"CSMETRICS_WAREHOUSE": str(warehouse)})
    airflow.start()
    try:
        airflow.wait_for_dag("csmetrics_daily")
        airflow.cli("dags", "unpause", "csmetrics_daily")
        airflow.cli("backfill", "create", "--dag-id", "csmetrics_daily", "--from-date", str(DAY), "--to-date", str(DAY))
        airflow.wait_for_runs("csmetrics_daily", 1, timeout_s=1800)
        with sqlite3.connect(home / "airflow.db") as db:
            tasks = dict(db.execute("SELECT task_id, duration FROM task_instance WHERE dag_id = 'csmetrics_daily'").fetchall())
            [(state, seconds)] = db.execute(
                "SELECT state, (julianday(end_date) - julianday(start_date)) * 86400 FROM dag_run WHERE dag_id = 'csmetrics_daily'"
            ).fetchall()
    finally:
        airflow.stop()
    if state != "success":
        raise SystemExit(f"the dag run ended {state}: logs under {home}/logs")
    return seconds, tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path, help="working folder, emptied first: landing zone, warehouses, Airflow home")
    parser.add_argument("--shops", type=int, default=3, help="shops in the generated day (default 3)")
    args = parser.parse_args()
    from csmetrics_generate import GenerateOptions, generate

    shutil.rmtree(args.work, ignore_errors=True)
    landing = args.work / "landing"
    generate(GenerateOptions(str(landing), shops=args.shops, days=1, start=DAY, seed=21), lambda message: None)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSMETRICS_", "AIRFLOW"))} | {
        "CSMETRICS_LANDING": str(landing),
        "CSMETRICS_SHUFFLE_PARTITIONS": os.environ.get("CSMETRICS_SHUFFLE_PARTITIONS", "2"),
        "CSMETRICS_LOG_FILE": str(args.work / "csmetrics.log"),
        "CSMETRICS_SPARK_CONF": os.environ.get("CSMETRICS_SPARK_CONF", ""),
    }
    before = cli_run(env, args.work / "cli-before", "cli__before")
    print(f"csmetrics run, before: {before:.1f} s", flush=True)
    scheduled, tasks = dag_run(env, args.work / "airflow", args.work / "airflow-warehouse")
    print(f"csmetrics_daily under the scheduler: {scheduled:.1f} s ({', '.join(f'{t} {s:.1f} s' for t, s in sorted(tasks.items()))})", flush=True)
    after = cli_run(env, args.work / "cli-after", "cli__after")
    print(f"csmetrics run, after: {after:.1f} s")
    print(f"under the scheduler / command line: {scheduled / ((before + after) / 2):.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
