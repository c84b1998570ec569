"""A backfill chunk: its days' slice transactions one by one, against one for the chunk.

Generates --shops shops over 16 days of history plus --days + 1 days, ingests it all once (a
backfill's prepare step) into a warehouse that every measurement then copies, and times the
chunk of the --days days before the backfill's end in one process, alternating:
  per day    one slice transaction a day (`publish_plan` of each `RunPlan.backfill_day`),
             as chunks ran before 2026-12-06;
  per chunk  one for the chunk (`RunPlan.backfill_days`): each day computed as of its own
             cutoff, one gold gate, one commit per gold table.
Prints seconds, Spark jobs and Delta commits of each. Figures are printed, never asserted.

    CSMETRICS_SPARK_CONF=... .venv/bin/python bench/backfill_chunk.py --work /tmp/chunk --pairs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

START = date(2026, 3, 1)
HISTORY_DAYS = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/csmetrics-backfill-chunk", help="folder for landing zone and warehouses")
    parser.add_argument("--shops", type=int, default=5, help="shops in the generated days (default 5)")
    parser.add_argument("--days", type=int, default=6, help="days of the chunk (default 6)")
    parser.add_argument("--pairs", type=int, default=3, help="measurements of each way, alternating (default 3)")
    args = parser.parse_args()
    work = Path(args.work)
    landing, prepared = work / "landing", work / "prepared"
    os.environ.update(CSMETRICS_LANDING=str(landing), CSMETRICS_WAREHOUSE=str(prepared))
    os.environ.setdefault("CSMETRICS_SHUFFLE_PARTITIONS", "2")
    # Keep every job's record: the jobs of a measurement are counted by its job group.
    retain = "spark.ui.retainedJobs=100000;spark.ui.retainedStages=100000"
    os.environ["CSMETRICS_SPARK_CONF"] = ";".join(filter(None, (os.environ.get("CSMETRICS_SPARK_CONF"), retain)))
    from csmetrics import pipeline
    from csmetrics.backfill import backfill_id, day_run_id, days_run_id
    from csmetrics.config import Settings
    from csmetrics.plan import RunPlan
    from csmetrics.publish import publish_plan
    from csmetrics.spark import get_spark
    from csmetrics_generate import GenerateOptions, generate

    first = START + timedelta(days=HISTORY_DAYS)
    days = [first + timedelta(days=i) for i in range(args.days)]
    end = days[-1] + timedelta(days=1)
    if not (landing / "sessions").exists():
        generate(GenerateOptions(str(landing), shops=args.shops, days=HISTORY_DAYS + args.days + 2, start=START, seed=7), lambda m: None)
    spark = get_spark(Settings.from_env())
    if not (prepared / "bronze").exists():
        pipeline.backfill_prepare_step(first, end, False, lambda m: None)
    backfill = backfill_id(first, end, False)

    def per_day(settings):
        for day in days:
            publish_plan(spark, settings, RunPlan.backfill_day(day, end), day_run_id(backfill, day))

    def per_chunk(settings):
        publish_plan(spark, settings, RunPlan.backfill_days(days, end), days_run_id(backfill, days))

    ways = (("per day", per_day), ("per chunk", per_chunk))
    for pair in range(args.pairs):
        for name, way in ways if pair % 2 == 0 else ways[::-1]:
            target = work / "measured"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(prepared, target)
            os.environ["CSMETRICS_WAREHOUSE"] = str(target)
            group = f"{name}-{pair}"
            spark.sparkContext.setJobGroup(group, group)
            commits = sum(1 for _ in target.glob("**/_delta_log/*.json"))
            started = time.perf_counter()
            way(Settings.from_env())
            seconds = time.perf_counter() - started
            jobs = len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))
            commits = sum(1 for _ in target.glob("**/_delta_log/*.json")) - commits
            print(f"{name:9s} {len(days)} days: {seconds:6.1f} s, {jobs} jobs, {commits} commits", flush=True)


if __name__ == "__main__":
    main()
