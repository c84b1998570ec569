"""Keep the warehouse from growing without bound: compaction, VACUUM, staging and Data Docs.

Run weekly (dags/csmetrics_maintenance.py, or `csmetrics maintain`), away from the daily
runs' publish. Every Delta table of the catalog is compacted (small files of daily MERGEs
and slice replacements into few), then VACUUMed with CSMETRICS_RETAIN_DAYS of retention:
time travel, and so a look at what a restatement replaced, keeps working for that long.
Staging tables and GX results past the same age are removed.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from pyspark.sql import SparkSession

from csmetrics.config import Settings
from csmetrics.quality.gate import open_context
from csmetrics.schemas.raw import RAW_TABLES
from csmetrics.spark import session_setting
from csmetrics.tables import (
    BACKFILL_CHUNKS,
    BY_NAME,
    HELD_BACK,
    INGEST_LOG,
    QUARANTINE,
    RUN_COMMITS,
    VALIDATION_RESULTS,
    Table,
    bronze,
    drop_stale_staging,
)

# Where GX keeps one file (or folder) per validation run: results, and their Data Docs pages.
GX_RUN_FOLDERS = ("gx/uncommitted/validations", "gx/uncommitted/data_docs/local_site/validations")


def maintained_tables() -> list[Table]:
    return [*(bronze(name) for name in RAW_TABLES), INGEST_LOG, QUARANTINE, HELD_BACK, VALIDATION_RESULTS, BACKFILL_CHUNKS, RUN_COMMITS, *BY_NAME.values()]


def compact_and_vacuum(spark: SparkSession, settings: Settings, table: Table) -> tuple[int, int] | None:
    """OPTIMIZE then VACUUM one table; return its file count before and after, None if absent."""
    if not table.exists(spark, settings):
        return None
    # A table of an older csmetrics gets its declared layout and properties first.
    delta = table.ensure(spark, settings, relayout=True)
    # The counts from OPTIMIZE's own metrics: without a partition filter it considers every
    # file of the table. (`detail()` counts them again with a job over the table's whole
    # state, twice a table.) VACUUM removes only files no longer in the table. A compaction
    # Delta gives up on for a concurrent commit still reports its rewrite: maintenance runs
    # weekly, away from the daily runs' publish (dags/csmetrics_maintenance.py).
    compacted = delta.optimize().executeCompaction().first()["metrics"]
    delta.vacuum(settings.retain_days * 24.0)
    before = compacted["totalConsideredFiles"]
    return before, before - compacted["numFilesRemoved"] + compacted["numFilesAdded"]


def drop_old_gx_runs(settings: Settings) -> int:
    """Remove GX validation results and their Data Docs pages older than the retention, then
    rebuild the Data Docs index so that it links no removed page; return how many went."""
    oldest = time.time() - settings.retain_days * 86400
    removed = 0
    for folder in GX_RUN_FOLDERS:
        root = Path(settings.gx_project) / folder
        for entry in root.glob("*") if root.exists() else ():
            if entry.stat().st_mtime < oldest:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                removed += 1
    if removed:
        open_context(settings).build_data_docs()
    return removed


# VACUUM lists a table's files with as many tasks as this setting, whose Spark default
# (10,000) made every VACUUM of a small table take 25-30 s on 2 cores, against 5 s with one
# task per core.
LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"


def maintain(spark: SparkSession, settings: Settings, progress=print) -> dict[str, tuple[int, int]]:
    files = {}
    with session_setting(spark, LISTING_PARALLELISM, str(spark.sparkContext.defaultParallelism)):
        for table in maintained_tables():
            counted = compact_and_vacuum(spark, settings, table)
            if counted:
                files[f"{table.layer}/{table.name}"] = counted
                progress(f"{table.layer}/{table.name}: {counted[0]} -> {counted[1]} files")
    progress(f"staging: {drop_stale_staging(spark, settings)} stale table(s) removed")
    progress(f"Data Docs: {drop_old_gx_runs(settings)} validation run(s) older than {settings.retain_days} days removed")
    return files
