"""Wall time of a backfill against the same days run one by one, on generated demo data.

Generates --days days for --shops shops, then, in two fresh warehouses over the same landing
zone:
  daily     `csmetrics run --date D` for every day, one process each (a Spark start-up per
            day, as an Airflow task per daily run has);
  backfill  (first) `csmetrics backfill --start .. --end ..` (one process here; chunks sized by
            the landed data, or --chunk-days N);
  bare      the bare start of the project's Spark session with one tiny job, in a new process
            (what issue 30 measures a backfill's day against).
Prints the wall times per day, checks that the gold metric tables are identical (doubles to a
relative 1e-9) and counts final and held-back rows. Every run must succeed: a CRITICAL gate
failure stops it. With --daily-days N < --days, only the first N days run daily (a sample of
the per-day cost), and only the rows those runs made final are compared: a row still
provisional after N days legitimately differs from the backfill's later, final one. With
--daily-days 0 only the backfill and the bare start are timed.

    .venv/bin/python bench/backfill_vs_daily.py --days 30 --shops 40 --work /tmp/csbackfill
    .venv/bin/python bench/backfill_vs_daily.py --days 30 --daily-days 5
    .venv/bin/python bench/backfill_vs_daily.py --days 14 --daily-days 0

Figures are printed, never asserted: this is a measuring tool, not a test.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

CLI = [sys.executable, "-m", "csmetrics.cli"]


BARE_START = (
    "from csmetrics.config import Settings; from csmetrics.spark import get_spark; "
    "get_spark(Settings.from_env()).range(1).count()"
)


def run(args: list[str], env: dict) -> None:
    subprocess.run(CLI + args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bare_start(env: dict) -> float:
    """Seconds for a new process to start the project's Spark session and run one tiny job."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", BARE_START], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def same_rows(left: list[tuple], right: list[tuple]) -> bool:
    """Equal rows, doubles to a relative 1e-9 (sums over other partitions add in another order)."""
    def same(x, y):
        return x == y or (isinstance(x, float) and isinstance(y, float) and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9))

    return len(left) == len(right) and all(len(a) == len(b) and all(map(same, a, b)) for a, b in zip(left, right))


def held_back_rows(warehouse: Path) -> int:
    from csmetrics.config import Settings
    from csmetrics.spark import get_spark

    path = warehouse / "quality" / "held_back"
    return get_spark(Settings(shuffle_partitions=2)).read.format("delta").load(str(path)).count() if path.exists() else 0


def gold_rows(warehouse: Path) -> dict[str, dict[tuple, tuple]]:
    """Each gold metric table's rows by key, without the run's own columns."""
    from csmetrics.config import Settings
    from csmetrics.spark import get_spark
    from csmetrics.tables import AGENT_METRICS_DAILY, SHOP_METRICS_DAILY

    spark = get_spark(Settings(shuffle_partitions=2))
    rows = {}
    for table in (SHOP_METRICS_DAILY, AGENT_METRICS_DAILY):
        frame = spark.read.format("delta").load(str(warehouse / "gold" / table.name)).drop("run_id", "computed_at")
        rows[table.name] = {tuple(r[k] for k in table.keys): tuple(r) for r in frame.collect()}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30, help="days to run (default 30)")
    parser.add_argument("--shops", type=int, default=40, help="shops, as in the demo (default 40)")
    parser.add_argument("--daily-days", type=int, help="run only the first N days daily (default: all; 0: none)")
    parser.add_argument("--chunk-days", type=int, help="backfill chunk size in days (default: sized by the landed data)")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 2), help="first day (default 2026-03-02)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/csbackfill"), help="scratch folder, emptied first")
    args = parser.parse_args()
    daily_days = min(args.days if args.daily_days is None else args.daily_days, args.days)

    shutil.rmtree(args.work, ignore_errors=True)
    landing = args.work / "landing"
    end = args.start + timedelta(days=args.days - 1)
    base = dict(os.environ, CSMETRICS_LANDING=str(landing), CSMETRICS_SHUFFLE_PARTITIONS="4")
    run(["generate", "--out", str(landing), "--shops", str(args.shops), "--days", str(args.days), "--start", str(args.start)], base)

    timings = {"bare": bare_start(base)}
    started = time.monotonic()
    chunking = ["--chunk-days", str(args.chunk_days)] if args.chunk_days else []
    run(["backfill", "--start", str(args.start), "--end", str(end), *chunking], dict(base, CSMETRICS_WAREHOUSE=str(args.work / "backfill")))
    timings["backfill"] = time.monotonic() - started
    print(f"backfill of {args.days} days done in {timings['backfill']:.0f} s", file=sys.stderr, flush=True)
    timings["bare"] = min(timings["bare"], bare_start(base))
    chunks = f"chunks of {args.chunk_days} days" if args.chunk_days else "chunks sized by the data"
    per_day = timings["backfill"] / args.days
    print(f"{args.days} days, {args.shops} shops, {os.cpu_count()} cores")
    print(f"  one backfill, {chunks}: {timings['backfill']:8.1f} s ({per_day:.1f} s a day)")
    print(f"  bare start of the Spark session with one tiny job, new process (best of 2): {timings['bare']:.1f} s; "
          f"a backfill's day is {per_day / timings['bare']:.2f}x that")
    if daily_days == 0:
        return

    started = time.monotonic()
    daily_env = dict(base, CSMETRICS_WAREHOUSE=str(args.work / "daily"))
    for offset in range(daily_days):
        day = args.start + timedelta(days=offset)
        run(["run", "--date", str(day)], daily_env)
        print(f"daily run {offset + 1}/{daily_days} done, {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    timings["daily"] = time.monotonic() - started

    daily, backfilled = gold_rows(args.work / "daily"), gold_rows(args.work / "backfill")
    finals = {t: sum(1 for row in rows.values() if "final" in row) for t, rows in daily.items()}
    if daily_days < args.days:
        daily = {t: {key: row for key, row in rows.items() if "final" in row} for t, rows in daily.items()}
        backfilled = {t: {key: backfilled[t].get(key, ()) for key in daily[t]} for t in daily}
        compared = f"the {daily_days} daily runs' final rows equal the backfill's"
    else:
        compared = "identical gold tables"
    same = all(same_rows(sorted(daily[t].values()), sorted(backfilled[t].values())) for t in daily)
    print(f"  {daily_days} daily runs (one process each): {timings['daily']:8.1f} s ({timings['daily'] / daily_days:.1f} s a day)")
    speed_up = (timings["daily"] / daily_days) / (timings["backfill"] / args.days)
    print(f"  speed-up per day {speed_up:.1f}x; {compared} (doubles to 1e-9): {same}")
    print(f"  final rows: {finals}; held-back rows: daily {held_back_rows(args.work / 'daily')}, "
          f"backfill {held_back_rows(args.work / 'backfill')}")


if __name__ == "__main__":
    main()
