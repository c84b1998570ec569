"""Kill a daily run where production kills runs, check what it left, re-run it, compare.

A run is `csmetrics run` in its own process group; at a kill point the whole group (Python
and its Spark JVM) gets SIGKILL, as the OOM killer or a lost node does. Kill points are found
from the run's own progress lines on stdout, plus a delay to land inside a write. Used by
tests/crash/test_crash.py (a few points in CI) and `bin/crash-matrix` (every point).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from csmetrics.config import Settings
from csmetrics.schemas.raw import RAW_TABLES
from csmetrics.tables import BY_NAME, INGEST_LOG, PUBLISHED_TABLES, QUARANTINE


@dataclass(frozen=True)
class KillPoint:
    name: str
    after_line: str  # the progress line (its start) that the kill waits for
    delay_s: float  # then this long: 0 is a step boundary, more lands inside the next write
    # Or: kill the moment a data file no commit references yet appears under this layer of
    # the warehouse (gold, bronze): a kill inside the write, whatever the machine's speed.
    inside: str | None = None


KILL_POINTS = (
    KillPoint("inside ingest", "ingest messages:", 0.0, inside="bronze"),
    KillPoint("before compute", "bronze gate:", 0.0),
    KillPoint("inside compute", "computing ", 4.0),
    KillPoint("before publish", "gold gate:", 0.0),
    KillPoint("inside publish", "gold gate:", 0.0, inside="gold"),
    KillPoint("before derive", "published ", 0.0),
    KillPoint("inside derive", "published ", 0.0, inside="gold"),
)
BY_NAME_POINT = {p.name: p for p in KILL_POINTS}


def data_files(folder: Path) -> set[Path]:
    """The Parquet data files of every Delta table under `folder` (not their logs)."""
    return {p for p in folder.glob("**/*.parquet") if "_delta_log" not in p.parts}


def uncommitted_files(spark: SparkSession, folder: Path) -> list[Path]:
    """Data files under `folder` that no commit of their table references: what a write
    killed before its commit leaves behind (VACUUM removes them; no reader sees them)."""
    referenced = set()
    for log in folder.glob("**/_delta_log"):
        table = log.parent
        actions = spark.read.json(str(log / "*.json")) if any(log.glob("*.json")) else None
        if actions is not None and "add" in actions.columns:
            referenced |= {table / unquote(r.path) for r in actions.where("add IS NOT NULL").select("add.path").collect()}
    return sorted(data_files(folder) - referenced)


def run_and_kill(point: KillPoint, run_date: date, run_id: str, env: dict[str, str], timeout_s: float = 900) -> bool:
    """Start `csmetrics run`; SIGKILL its process group at `point`. True if it was killed,
    False if the run ended first (a kill point the run never reached)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "csmetrics.cli", "run", "--date", str(run_date), "--run-id", run_id],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    watched = Path(env["CSMETRICS_WAREHOUSE"]) / point.inside if point.inside else None
    for line in process.stdout:
        if line.startswith(point.after_line):
            if watched is not None:
                _wait_for_new_file(watched, process, deadline)
            time.sleep(point.delay_s)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return process.returncode == -signal.SIGKILL
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise TimeoutError(f"{point.after_line!r} never came")
    process.wait()
    return False


def _wait_for_new_file(folder: Path, process: subprocess.Popen, deadline: float) -> None:
    """Return as soon as a data file appears under `folder` that was not there before (or the
    run ends, or the deadline passes): the run is then writing, before its commit."""
    before = data_files(folder)
    while process.poll() is None and time.monotonic() < deadline:
        if data_files(folder) - before:
            return
        time.sleep(0.005)


def inconsistencies(spark: SparkSession, settings: Settings, after_rerun: bool) -> list[str]:
    """What a reader could see that would be wrong: a partial slice, records lost or doubled.

    After a kill, bronze may hold rows of a file whose ingest-log entry was not yet written
    (the re-run then finds them as duplicates); after the re-run, the log accounts for all."""
    problems = []
    for table in PUBLISHED_TABLES:
        if not DeltaTable.isDeltaTable(spark, table.path(settings)):
            continue
        rows = spark.read.format("delta").load(table.path(settings))
        # A run replaces (stat_date, metric) slices of the metric tables, whole dates of the detail.
        by = [c for c in ("stat_date", "metric") if c in rows.columns]
        mixed = rows.groupBy(*by).agg(F.countDistinct("run_id").alias("runs")).where("runs > 1").count()
        if mixed:
            problems.append(f"{table.name}: {mixed} ({', '.join(by)}) slice(s) hold rows of more than one run")
    for table in BY_NAME.values():
        if DeltaTable.isDeltaTable(spark, table.path(settings)):
            spark.read.format("delta").load(table.path(settings)).count()  # every table opens
    if not DeltaTable.isDeltaTable(spark, INGEST_LOG.path(settings)):
        return problems
    log = spark.read.format("delta").load(INGEST_LOG.path(settings))
    unbalanced = log.where("landed_records != bronze_records + quarantined_records + duplicate_records").count()
    if unbalanced:
        problems.append(f"_ingest_log: {unbalanced} file(s) whose records do not balance")
    if log.count() != log.select("source_file", "landed_at").distinct().count():
        problems.append("_ingest_log: a file was ingested twice")
    sums = log.groupBy("table").agg(F.sum("bronze_records").alias("bronze"), F.sum("quarantined_records").alias("quarantined"))
    logged = {r["table"]: r for r in sums.collect()}
    quarantine = (
        {r["table"]: r["count"] for r in spark.read.format("delta").load(QUARANTINE.path(settings)).groupBy("table").count().collect()}
        if DeltaTable.isDeltaTable(spark, QUARANTINE.path(settings)) else {}
    )
    for name in RAW_TABLES:
        path = settings.table_path("bronze", name)
        in_bronze = spark.read.format("delta").load(path).count() if DeltaTable.isDeltaTable(spark, path) else 0
        in_log = logged[name]["bronze"] if name in logged else 0
        if in_bronze < in_log or (after_rerun and in_bronze != in_log):
            problems.append(f"bronze/{name}: {in_bronze} rows, the ingest log accounts for {in_log}")
        quarantined = logged[name]["quarantined"] if name in logged else 0
        if after_rerun and quarantine.get(name, 0) != quarantined:
            problems.append(f"quarantine/{name}: {quarantine.get(name, 0)} rows, the ingest log accounts for {quarantined}")
    return problems


def gold_rows(spark: SparkSession, settings: Settings) -> dict[str, list[tuple]]:
    """Every gold table's rows without run bookkeeping, sorted."""
    tables = {}
    for name, table in BY_NAME.items():
        frame = spark.read.format("delta").load(table.path(settings)).drop("run_id", "computed_at")
        tables[name] = sorted(tuple(r) for r in frame.collect())
    return tables
