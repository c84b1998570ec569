"""The cost of one daily run, step by step: seconds, Spark jobs, Delta commits, and the call
sites that start the most jobs. Counts are the same on every machine; seconds drift.

    .venv/bin/python bench/profile_run.py --shops 3 --work /tmp/profile-run
    .venv/bin/python bench/profile_run.py --shops 3 --work /tmp/profile-run --history-days 3

The landing zone (generated once under --work, reused) holds --history-days + 2 days; the
runs of the history days go first (a warm JVM and warehouse), then the run for the last
day but one is profiled (the day after it is what makes it complete).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import time
from datetime import date, timedelta
from itertools import takewhile
from pathlib import Path

FIRST_DAY = date(2026, 3, 2)
STEPS = ("ingest", "validate_bronze", "compute_gate_publish", "derive")


def delta_commits(warehouse: Path) -> int:
    """Commits of every Delta table under the warehouse (their log's JSON files)."""
    return sum(1 for _ in warehouse.glob("**/_delta_log/*.json"))


def profile(spark, warehouse: Path, run_date: date, run_id: str, restate: bool = False) -> list[tuple]:
    from csmetrics import pipeline

    quiet = lambda message: None  # noqa: E731
    # As the bronze phase runs them: the gate checks the batch ingest held, and releases it.
    ingest, validate_bronze = pipeline.bronze_steps(run_date, run_id, restate, quiet)
    calls = {
        "ingest": ingest,
        "validate_bronze": validate_bronze,
        # One transaction, as the daily run's gold phase runs it (nothing staged).
        "compute_gate_publish": lambda: pipeline.compute_gate_publish_step(run_date, run_id, restate, quiet),
        "derive": lambda: pipeline.derive_step(run_date, run_id, restate, quiet),
    }
    tracker = spark.sparkContext.statusTracker()
    rows = []
    for step in STEPS:
        group = f"profile-{run_id}-{step}"
        spark.sparkContext.setJobGroup(group, step)
        commits, started = delta_commits(warehouse), time.perf_counter()
        calls[step]()
        seconds = time.perf_counter() - started
        jobs = tracker.getJobIdsForGroup(group)
        sites = collections.Counter()
        for job in jobs:
            info = tracker.getJobInfo(job)
            stages = sorted(info.stageIds) if info else []
            stage = tracker.getStageInfo(stages[0]) if stages else None
            sites[stage.name if stage else "?"] += 1
        rows.append((step, seconds, len(jobs), delta_commits(warehouse) - commits, sites))
    spark.sparkContext.setJobGroup("", "")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shops", type=int, default=3, help="shops in the generated days (default 3)")
    parser.add_argument("--history-days", type=int, default=1, help="daily runs before the profiled one (default 1: a warm JVM)")
    parser.add_argument("--work", default="/tmp/csmetrics-profile-run", help="folder for landing zone and warehouse")
    parser.add_argument("--sites", type=int, default=4, help="call sites listed per step (default 4)")
    args = parser.parse_args()
    work = Path(args.work)
    landing, warehouse = work / "landing", work / "warehouse"
    days = args.history_days + 2
    os.environ.update(CSMETRICS_LANDING=str(landing), CSMETRICS_WAREHOUSE=str(warehouse))
    os.environ.setdefault("CSMETRICS_SHUFFLE_PARTITIONS", "2")
    # Spark forgets the stages of old jobs (1,000 by default): a profiled run names the call
    # site of each of its jobs from its first stage, so keep them all.
    retain = "spark.ui.retainedJobs=100000;spark.ui.retainedStages=100000"
    os.environ["CSMETRICS_SPARK_CONF"] = ";".join(filter(None, (os.environ.get("CSMETRICS_SPARK_CONF"), retain)))
    from csmetrics.config import Settings
    from csmetrics.pipeline import run_daily
    from csmetrics.spark import get_spark
    from csmetrics_generate import GenerateOptions, generate

    if not (landing / "sessions").exists():
        generate(GenerateOptions(str(landing), shops=args.shops, days=days, start=FIRST_DAY, seed=21), lambda message: None)
    shutil.rmtree(warehouse, ignore_errors=True)
    spark = get_spark(Settings.from_env())
    for offset in range(args.history_days):
        day = FIRST_DAY + timedelta(days=offset)
        started = time.perf_counter()
        run_daily(day, f"history__{day}", progress=lambda message: None)
        print(f"history run {day}: {time.perf_counter() - started:.1f} s", flush=True)
    run_date = FIRST_DAY + timedelta(days=args.history_days)
    rows = profile(spark, warehouse, run_date, f"profiled__{run_date}")
    print(f"\nthe run for {run_date} ({args.shops} shops, {args.history_days} day(s) of history)")
    print(f"{'step':16s} {'seconds':>8s} {'jobs':>6s} {'commits':>8s}  most jobs from")
    for step, seconds, jobs, commits, sites in rows:
        top = ", ".join(f"{name} x{count}" for name, count in sites.most_common(args.sites))
        print(f"{step:16s} {seconds:8.1f} {jobs:6d} {commits:8d}  {top}")
    print(f"{'whole run':16s} {sum(r[1] for r in rows):8.1f} {sum(r[2] for r in rows):6d} {sum(r[3] for r in rows):8d}")
    print(f"rows of other slices publish copied: {copied_rows(spark, f'profiled__{run_date}')}")


def copied_rows(spark, run_id: str) -> dict[str, int]:
    """Rows of other slices that the run's publish copied out of the files it rewrote, per
    published table (Delta's numCopiedRows of the run's commits): 0 when a replace touches
    only its slice."""
    from csmetrics.commits import log_commits
    from csmetrics.config import Settings
    from csmetrics.tables import PUBLISHED_TABLES

    settings = Settings.from_env()
    # The run's commits are the newest (an id the bench reuses may tag older runs' too).
    return {
        table.name: sum(
            int(c.operation_metrics.get("numCopiedRows") or 0)
            for c in takewhile(lambda c: c.user_metadata == run_id, log_commits(spark, table.path(settings)))
            if c.operation == "WRITE"
        )
        for table in PUBLISHED_TABLES
        if table.exists(spark, settings)
    }


if __name__ == "__main__":
    main()
