"""Benchmark of the conversation-metrics job: one day at a chosen scale.

Generates a landing zone holding one day of about --messages messages, ingests it into
bronze (timed separately), then times the compute job of the run that makes that day final
(both grains, written to a Delta staging table as the daily run does; --families all for
every metric) and prints messages per second, wall time and the peak resident memory of
the whole process tree (driver JVM included).

    .venv/bin/python bench/conversation_job.py --messages 10_000_000 --work /tmp/csbench

Figures are printed, never asserted: this is a measuring tool, not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import psutil

MESSAGES_PER_SESSION = 10  # what the generator produces on average


class PeakMemory:
    """Samples the RSS of this process and all its children (the Spark JVM) in a thread."""

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=lambda s: int(s.replace("_", "")), default=10_000_000,
                        help="approximate messages in the benchmarked day (default 10,000,000)")
    parser.add_argument("--shops", type=int, default=20_000, help="shops, Zipf-skewed sizes (default 20,000)")
    parser.add_argument("--work", default="var/bench", help="scratch folder for landing and warehouse (default var/bench)")
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 3, 2), help="the benchmarked date")
    parser.add_argument("--shuffle-partitions", type=int, default=16, help="spark.sql.shuffle.partitions (default 16)")
    parser.add_argument("--driver-memory", default="4g", help="spark.driver.memory (default 4g)")
    parser.add_argument("--families", default="conversation",
                        help="metric families to compute, comma-separated, or 'all' for the whole daily job "
                             "(default conversation)")
    parser.add_argument("--reuse", action="store_true", help="reuse data generated and ingested by an earlier run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    work = Path(args.work).resolve()
    os.environ.update(
        CSMETRICS_WAREHOUSE=str(work / "warehouse"),
        CSMETRICS_LANDING=str(work / "landing"),
        CSMETRICS_SHUFFLE_PARTITIONS=str(args.shuffle_partitions),
        CSMETRICS_DRIVER_MEMORY=args.driver_memory,
    )
    # Imported after the environment is set: Settings read it.
    from csmetrics import registry
    from csmetrics.compute import stage
    from csmetrics.config import Settings
    from csmetrics.ingest.run import ingest
    from csmetrics.plan import RunPlan
    from csmetrics.spark import get_spark

    settings = Settings.from_env()
    families = registry.families() if args.families == "all" else tuple(args.families.split(","))
    if not args.reuse:
        shutil.rmtree(work, ignore_errors=True)
        started = time.perf_counter()
        # In a child process, so that the generator's memory does not count below.
        subprocess.run(
            [sys.executable, "-m", "csmetrics.cli", "generate", "--out", settings.landing, "--shops", str(args.shops),
             "--days", "1", "--start", str(args.day), "--sessions-per-day", str(args.messages // MESSAGES_PER_SESSION)],
            check=True,
        )
        print(f"generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    spark = get_spark(settings, app_name="csmetrics-bench")
    run_day = args.day + timedelta(days=1)  # the run that makes the day final
    if not args.reuse:
        started = time.perf_counter()
        ingest(spark, settings, run_day, "bench-ingest", lambda m: print(m, file=sys.stderr))
        print(f"ingested in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    messages = spark.read.format("delta").load(settings.table_path("bronze", "messages")).count()
    with PeakMemory() as memory:
        started = time.perf_counter()
        paths = stage(spark, settings, RunPlan(run_day, families), "bench-compute")
        wall = time.perf_counter() - started
    rows = {table: spark.read.format("delta").load(path).count() for table, path in paths.items()}

    print(f"\ncompute job ({', '.join(families)}), one day, {os.cpu_count()} cores, "
          f"shuffle partitions {args.shuffle_partitions}, driver memory {args.driver_memory}")
    print(f"  messages          {messages:>14,d}")
    print(f"  wall time         {wall:>14.1f} s")
    print(f"  messages / second {messages / wall:>14,.0f}")
    print(f"  peak memory       {memory.peak / 2**30:>14.2f} GiB (process tree, driver JVM included)")
    for table, count in rows.items():
        print(f"  {table:17s} {count:>14,d} rows")


if __name__ == "__main__":
    main()
