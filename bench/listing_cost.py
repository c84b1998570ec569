"""What a daily run's landing listing costs against the landing zone's history: every arrival
partition, against the run's lookback (CSMETRICS_LANDING_LOOKBACK_DAYS). Counts are the same
on every machine; seconds drift.

    .venv/bin/python bench/listing_cost.py --days 365 --work /tmp/listing-cost

Lays down --days arrival partitions of every raw table (one one-row file each) and an
ingest log that holds all of them, then times, in one driver and alternating, the listing
of every table (`landed_files`) and the ingest log's rows the run reads (`_logged_files`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

RUN_DATE = date(2026, 3, 3)  # a Tuesday: the run lists its lookback only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365, help="arrival partitions of history per raw table (default 365)")
    parser.add_argument("--lookback", type=int, default=7, help="the run's CSMETRICS_LANDING_LOOKBACK_DAYS (default 7)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of both listings (default 3)")
    parser.add_argument("--work", type=Path, required=True, help="folder for the landing zone and warehouse (emptied first)")
    args = parser.parse_args()
    if args.work.exists() and any(args.work.iterdir()) and not (args.work / "landing").is_dir():
        parser.error(f"--work {args.work} holds files this benchmark did not make: give an empty or new folder")
    shutil.rmtree(args.work, ignore_errors=True)
    os.environ["CSMETRICS_WAREHOUSE"] = str(args.work / "warehouse")
    os.environ["CSMETRICS_LANDING"] = str(args.work / "landing")

    from csmetrics.config import Settings
    from csmetrics.ingest import landing
    from csmetrics.ingest.run import _logged_files
    from csmetrics.schedule import cutoff, first_partition_listed
    from csmetrics.schemas.gold import INGEST_LOG
    from csmetrics.schemas.raw import RAW_TABLES
    from csmetrics.spark import get_spark

    settings = Settings.from_env()
    spark = get_spark(settings)
    logged = []
    for table in RAW_TABLES:
        for back in range(args.days):
            arrival = RUN_DATE + timedelta(days=1 - back)
            folder = Path(settings.landing) / table / f"dt={arrival}"
            folder.mkdir(parents=True)
            path = folder / "part-0.parquet"
            pq.write_table(pa.table({"x": [1]}), path)
            landed = datetime.combine(arrival, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
            os.utime(path, (landed.timestamp(), landed.timestamp()))
            logged.append((table, arrival, f"file:{path}", landed, "history", landed, 1, 1, 0, 0))
    log_path = settings.table_path("bronze", "_ingest_log")
    spark.createDataFrame(logged, INGEST_LOG).write.format("delta").save(log_path)

    listings = 0
    list_status = landing._fs_list

    def counted(spark_, path):
        nonlocal listings
        listings += 1
        return list_status(spark_, path)

    landing._fs_list = counted
    since = first_partition_listed(RUN_DATE, args.lookback)
    print(f"{args.days} days of {len(RAW_TABLES)} tables; the run for {RUN_DATE}, cutoff {cutoff(RUN_DATE):%Y-%m-%d %H:%M} UTC")
    for _ in range(args.rounds):
        for label, first in (("every partition", None), (f"since {since}", since)):
            listings, began = 0, time.perf_counter()
            files = {t: landing.landed_files(spark, settings.landing, t, cutoff(RUN_DATE), first) for t in RAW_TABLES}
            listed_s, began = time.perf_counter() - began, time.perf_counter()
            rows = _logged_files(spark.read.format("delta").load(log_path), "listing-cost", first, files)
            print(
                f"{label:18s} listings {listings:6,d}  files {sum(map(len, files.values())):6,d}  listing {listed_s:6.2f} s  "
                f"log rows {len(rows):6,d}  log read {time.perf_counter() - began:5.2f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
