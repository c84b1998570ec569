"""The Spark side of bench/run.py: one day's daily job, ingest then compute, in its own process.

    .venv/bin/python bench/spark_daily.py --work var/bench/10M --day 2026-03-02 --compare-out rows.parquet

Ingests the landing zone `<work>/landing` into `<work>/warehouse` as the run for --day + 1
does (the run that makes --day final), then computes that run's metrics of --families into
staging Delta tables, and writes the conversation metric rows (both grains) to
--compare-out for the comparison with the DuckDB reference. Prints one JSON line with
each phase's wall time and peak memory (process tree, Spark JVM included).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from measure import PeakMemory


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="scale folder holding landing/ (warehouse/ is written)")
    parser.add_argument("--day", type=date.fromisoformat, required=True, help="the benchmarked date")
    parser.add_argument("--families", default="conversation", help="metric families computed, comma-separated, or 'all'")
    parser.add_argument("--compare-out", type=Path, required=True, help="Parquet folder for the conversation rows")
    parser.add_argument("--skip-ingest", action="store_true", help="bronze is already there: time the compute only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.update(CSMETRICS_WAREHOUSE=str(args.work / "warehouse"), CSMETRICS_LANDING=str(args.work / "landing"))
    # Imported after the environment is set: Settings read it.
    from pyspark.sql import functions as F

    from csmetrics import registry
    from csmetrics.compute import stage
    from csmetrics.config import Settings
    from csmetrics.ingest.run import ingest
    from csmetrics.plan import RunPlan
    from csmetrics.schedule import cutoff
    from csmetrics.spark import get_spark

    settings = Settings.from_env()
    families = registry.families() if args.families == "all" else tuple(args.families.split(","))
    run_day = args.day + timedelta(days=1)
    plan = RunPlan(run_day, families)
    result = {"conversation_dates": [d.isoformat() for d in plan.dates_for("conversation")]}
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731

    with PeakMemory() as memory:
        started = time.perf_counter()
        spark = get_spark(settings, app_name="csmetrics-bench")
        result["spark_start_seconds"] = time.perf_counter() - started
        if not args.skip_ingest:
            started = time.perf_counter()
            ingest(spark, settings, "bench-ingest", cutoff(run_day), log)
            result["ingest_seconds"] = time.perf_counter() - started
            result["ingest_peak_bytes"] = memory.peak
            result["ingest_peak_anonymous_bytes"] = memory.peak_anonymous
    result["messages"] = spark.read.format("delta").load(settings.table_path("bronze", "messages")).count()

    with PeakMemory() as memory:
        started = time.perf_counter()
        paths = stage(spark, settings, plan, "bench-compute")
        result["compute_seconds"] = time.perf_counter() - started
        result["compute_peak_bytes"] = memory.peak
        result["compute_peak_anonymous_bytes"] = memory.peak_anonymous

    conversation = [m.id for m in registry.metrics("conversation")]
    staged = [spark.read.format("delta").load(path) for path in paths.values()]
    rows = staged[0].unionByName(staged[1], allowMissingColumns=True).where(F.col("metric").isin(conversation))
    rows.select("stat_date", "shop_id", "agent_id", "metric", "numerator", "denominator").write.mode("overwrite").parquet(
        str(args.compare_out)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
