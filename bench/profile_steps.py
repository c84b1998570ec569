"""Where the seconds of ingest or of a backfill go: each helper timed in one process.

    .venv/bin/python bench/profile_steps.py ingest --landing var/bench/2.5M/landing --work /tmp/profile
    .venv/bin/python bench/profile_steps.py backfill --days 5 --work /tmp/profile

`ingest` ingests a landing zone (e.g. one of bin/bench's scales) into a fresh warehouse as the
run for --run-date would (after the run for --after, untimed, when given), and times
classification, the append to bronze, quarantine and the rest.
`backfill` generates --days days of 40 shops (kept under --work and reused), backfills them in
one chunk into a fresh warehouse and times each day's compute, gold gate and publish, and the
prepare and derive steps. Figures are printed, never asserted (bench/RESULTS.md quotes them).
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

FIRST_DAY = date(2026, 3, 2)


class Timer:
    """Wraps module functions so that every call adds to their total."""

    def __init__(self) -> None:
        self.seconds, self.calls = collections.Counter(), collections.Counter()

    def wrap(self, module, name: str) -> None:
        function = getattr(module, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1

        setattr(module, name, timed)

    def report(self, total: float) -> None:
        for name, seconds in self.seconds.most_common():
            print(f"{name:28s} {seconds:7.1f} s  {self.calls[name]} call(s), {seconds / self.calls[name]:.1f} s each")
        print(f"{'total':28s} {total:7.1f} s")


def profile_ingest(args: argparse.Namespace) -> None:
    from csmetrics.config import Settings
    from csmetrics.ingest import run as ingest_run
    from csmetrics.schedule import cutoff
    from csmetrics.spark import get_spark

    timer = Timer()
    settings = Settings.from_env()
    spark = get_spark(settings)
    if args.after:
        # Bronze to classify against, as a daily run has: the run for an earlier date, untimed.
        ingest_run.ingest(spark, settings, "profile-before", cutoff(args.after), lambda message: None)
    for name in ("read_files", "_known_shops", "_existing_versions", "_count",
                 "_write_quarantine", "_append_to_bronze"):  # _write_quarantine includes its check
        timer.wrap(ingest_run, name)
    started = time.perf_counter()
    report = ingest_run.ingest(spark, settings, "profile", cutoff(args.run_date), lambda message: None)
    total = time.perf_counter() - started
    print(report.summary())
    timer.report(total)


def profile_backfill(args: argparse.Namespace) -> None:
    landing = args.work / "landing"
    if not landing.exists():
        from csmetrics_generate import GenerateOptions, generate

        generate(GenerateOptions(str(landing), shops=40, days=args.days, start=FIRST_DAY), lambda message: None)
    from csmetrics import compute, pipeline, publish

    timer = Timer()
    # A chunk's slice transaction: its rows computed (materialized), gated, published.
    timer.wrap(compute.Persisted, "materialize")
    for name in ("validate_gold", "slices_left_alone", "publish"):
        timer.wrap(publish, name)
    for name in ("backfill_prepare_step", "backfill_chunk_step", "backfill_derive_step"):
        timer.wrap(pipeline, name)
    started = time.perf_counter()
    pipeline.backfill(FIRST_DAY, FIRST_DAY + timedelta(days=args.days - 1), chunk_days=args.days, progress=lambda message: None)
    total = time.perf_counter() - started
    timer.report(total)
    print(f"{total / args.days:.1f} s a day over {args.days} days")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("ingest", "backfill"), help="the job to profile")
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (its warehouse/ is replaced)")
    parser.add_argument("--landing", type=Path, help="ingest: the landing zone to read (default WORK/landing)")
    parser.add_argument("--run-date", type=date.fromisoformat, default=FIRST_DAY + timedelta(days=1),
                        help="ingest: the run whose cutoff decides the files read (default 2026-03-03, as bin/bench)")
    parser.add_argument("--after", type=date.fromisoformat, default=None,
                        help="ingest: first ingest (untimed) what the run for this earlier date reads, so the timed run "
                             "classifies against bronze as a daily run does (default: a fresh, empty bronze)")
    parser.add_argument("--days", type=int, default=5, help="backfill: days generated and backfilled (default 5)")
    parser.add_argument("--shuffle-partitions", type=int, default=None,
                        help="spark.sql.shuffle.partitions (default: the project's setting for ingest, 4 for backfill)")
    args = parser.parse_args()
    warehouse = args.work / "warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)
    os.environ.update(CSMETRICS_WAREHOUSE=str(warehouse), CSMETRICS_LANDING=str(args.landing or args.work / "landing"))
    partitions = args.shuffle_partitions or (4 if args.what == "backfill" else None)
    if partitions:
        os.environ["CSMETRICS_SHUFFLE_PARTITIONS"] = str(partitions)
    if args.what == "ingest":
        profile_ingest(args)
    else:
        profile_backfill(args)


if __name__ == "__main__":
    main()
