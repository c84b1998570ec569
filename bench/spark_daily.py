"""The Spark side of bench/run.py: one day's daily job, ingest then compute, in its own process.

    .venv/bin/python bench/spark_daily.py --work var/bench/10M --day 2026-03-02 --compare-out rows.parquet

Ingests the landing zone `<work>/landing` into `<work>/warehouse` as the run for --day + 1
does (the run that makes --day final), then computes that run's metrics of --families into
staging Delta tables, and writes the conversation metric rows (both grains) to
--compare-out for the comparison with the DuckDB reference. Prints one JSON line with
each phase's wall time and peak memory (process tree, Spark JVM included).

With --whole-run, the run for --day + 1 runs every step of `csmetrics run` instead (ingest,
bronze gate, then compute of every family, gold gate and publish as one transaction, then
derive), each timed, and every metric row it published (both grains) goes to --compare-out.
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
from profile_run import copied_rows

WHOLE_RUN_ID, INGEST_RUN_ID = "bench-run", "bench-ingest"  # the whole run's, the compute benchmark's ingest's


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="scale folder holding landing/ (warehouse/ is written)")
    parser.add_argument("--day", type=date.fromisoformat, required=True, help="the benchmarked date")
    parser.add_argument("--families", default="conversation", help="metric families computed, comma-separated, or 'all'")
    parser.add_argument("--compare-out", type=Path, required=True, help="Parquet folder for the conversation rows")
    parser.add_argument("--skip-ingest", action="store_true", help="bronze is already there: time the compute only")
    parser.add_argument("--whole-run", action="store_true", help="every step of the daily run, each timed (all families)")
    return parser.parse_args(argv)


def delta_commits(warehouse: Path) -> int:
    """Commits of every Delta table under the warehouse (their log's JSON files)."""
    return sum(1 for _ in warehouse.glob("**/_delta_log/*.json"))


def timed(name: str, step, spark=None, warehouse: Path | None = None) -> tuple[dict, object]:
    """Run one step, timing it and sampling the process tree's peak memory meanwhile; with
    `spark` and `warehouse`, also count the Spark jobs it started and the Delta commits it made."""
    if spark is not None:
        spark.sparkContext.setJobGroup(f"bench-{name}", name)
        commits = delta_commits(warehouse)
    with PeakMemory() as memory:
        started = time.perf_counter()
        result = step()
        seconds = time.perf_counter() - started
    timing = {"step": name, "seconds": seconds, "peak_bytes": memory.peak, "peak_anonymous_bytes": memory.peak_anonymous}
    if spark is not None:
        timing["jobs"] = len(spark.sparkContext.statusTracker().getJobIdsForGroup(f"bench-{name}"))
        timing["commits"] = delta_commits(warehouse) - commits
        spark.sparkContext.setJobGroup("", "")
    return timing, result


def whole_run(run_day: date, spark, warehouse: Path, log) -> tuple[list[dict], dict[str, object]]:
    """The steps of `csmetrics run` in this process, as csmetrics.pipeline.run_daily runs them,
    each with its Spark jobs and Delta commits."""
    from csmetrics import pipeline

    run_id = WHOLE_RUN_ID
    # As the bronze phase runs them: the gate checks the batch ingest held, and releases it.
    ingest, bronze_gate = pipeline.bronze_steps(run_day, run_id, False, log)
    steps = (
        ("ingest", ingest),
        ("bronze gate", bronze_gate),
        # One transaction, as the daily run's gold phase runs it: the rows stay in memory.
        ("compute, gold gate, publish", lambda: pipeline.compute_gate_publish_step(run_day, run_id, False, log)),
        ("derive", lambda: pipeline.derive_step(run_day, run_id, False, log)),
    )
    timings = []
    for name, step in steps:
        timing, _ = timed(name, step, spark, warehouse)
        timings.append(timing)
        if "publish" in name:
            timing["copied_rows"] = copied_rows(spark, run_id)
    return timings, published_rows(spark, run_id)


def published_rows(spark, run_id: str) -> dict[str, object]:
    """The metric rows (both grains) the run published: what it computed, the shop-days the
    gold gate held back aside."""
    from pyspark.sql import functions as F

    from csmetrics.config import Settings
    from csmetrics.tables import AGENT_METRICS_DAILY, SHOP_METRICS_DAILY

    settings = Settings.from_env()
    return {
        table.name: spark.read.format("delta").load(table.path(settings)).where(F.col("run_id") == run_id)
        for table in (SHOP_METRICS_DAILY, AGENT_METRICS_DAILY)
    }


def compute_only(args: argparse.Namespace, spark, settings, plan, run_day: date, log) -> tuple[list[dict], dict[str, object]]:
    """Ingest (unless skipped) and compute, each timed: the two steps of the compute benchmark."""
    from csmetrics.compute import stage
    from csmetrics.ingest.run import ingest
    from csmetrics.schedule import cutoff

    timings = []
    if not args.skip_ingest:
        timings.append(timed("ingest", lambda: ingest(spark, settings, INGEST_RUN_ID, cutoff(run_day), log))[0])
    timing, paths = timed("compute", lambda: stage(spark, settings, plan, "bench-compute"))
    return [*timings, timing], {name: spark.read.format("delta").load(path) for name, path in paths.items()}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.update(CSMETRICS_WAREHOUSE=str(args.work / "warehouse"), CSMETRICS_LANDING=str(args.work / "landing"))
    # Imported after the environment is set: Settings read it.
    from pyspark.sql import functions as F

    from csmetrics import registry
    from csmetrics.config import Settings
    from csmetrics.plan import RunPlan
    from csmetrics.spark import get_spark
    from csmetrics.tables import INGEST_LOG

    settings = Settings.from_env()
    families = registry.families() if args.families == "all" or args.whole_run else tuple(args.families.split(","))
    run_day = args.day + timedelta(days=1)
    plan = RunPlan(run_day, families)
    result = {"conversation_dates": [d.isoformat() for d in plan.dates_for("conversation")]}
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731

    started = time.perf_counter()
    spark = get_spark(settings, app_name="csmetrics-bench")
    result["spark_start_seconds"] = time.perf_counter() - started
    result["whole_run"] = args.whole_run
    if args.whole_run:
        result["steps"], computed = whole_run(run_day, spark, args.work / "warehouse", log)
        compared = [m.id for m in registry.METRICS]
    else:
        result["steps"], computed = compute_only(args, spark, settings, plan, run_day, log)
        compared = [m.id for m in registry.metrics("conversation")]
    bronze_counts = {
        table.name: spark.read.format("delta").load(settings.table_path("bronze", table.name)).count()
        for table in (args.work / "landing").iterdir()
    }
    result["messages"], result["bronze_records"] = bronze_counts["messages"], sum(bronze_counts.values())
    if not args.skip_ingest:
        # What this run's ingest read: every record of every file, by the ingest log's footer
        # counts (re-sent copies and quarantined records included). Earlier runs' files (the
        # history of a warm run) are not counted.
        ingested = spark.read.format("delta").load(INGEST_LOG.path(settings)).where(F.col("run_id").isin(WHOLE_RUN_ID, INGEST_RUN_ID))
        result["landed_records"], result["ingested_bronze_records"] = ingested.agg(F.sum("landed_records"), F.sum("bronze_records")).first()

    shop = computed["shop_metrics_daily"].withColumn("agent_id", F.lit(None).cast("string"))
    agent = computed["agent_metrics_daily"]
    rows = shop.unionByName(agent, allowMissingColumns=True).where(F.col("metric").isin(compared))
    rows.select("stat_date", "shop_id", "agent_id", "segment", "metric", "numerator", "denominator").write.mode("overwrite").parquet(
        str(args.compare_out)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
