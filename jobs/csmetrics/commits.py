"""The run-level commit record (quality/run_commits).

Each gold table is replaced or merged in its own Delta transaction, so a run killed between
two of them leaves some tables at the new run and some at the previous one (docs/reliability.md).
After a step has written all its tables, it records one row per table with the version that
holds its result. A reader that needs every table at one run reads each at its recorded
version (`VERSION AS OF`); a step without its rows did not finish, and the run's re-run
records it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from csmetrics.config import Settings
from csmetrics.delta_io import replace_where, sql_literal
from csmetrics.tables import RUN_COMMITS, Table

# How far back in a table's history a step looks for its own commit (a step makes one per
# table; concurrent runs of other dates may have committed since).
HISTORY_DEPTH = 50


@dataclass(frozen=True)
class Commit:
    version: int
    operation: str
    # The run id of the commit's writer (csmetrics.delta_io tags every commit with it).
    user_metadata: str | None
    # Delta's operation metrics: counts as strings, as DESCRIBE HISTORY shows them.
    operation_metrics: dict[str, str] = field(default_factory=dict)


def log_commits(spark: SparkSession, path: str) -> Iterator[Commit]:
    """The table's commits, newest first, each read from its JSON file in the Delta log
    (`_delta_log/<version>.json`, whose commitInfo action DESCRIBE HISTORY shows). One listing
    of the log and one small read per commit taken, on the driver: Delta's history() starts a
    Spark job for each call, and a run asked about twenty tables."""
    jvm = spark.sparkContext._jvm
    log = jvm.org.apache.hadoop.fs.Path(f"{path}/_delta_log")
    fs = log.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    names = [status.getPath().getName() for status in fs.listStatus(log)]
    versions = sorted((int(name[:-5]) for name in names if name.endswith(".json") and name[:-5].isdigit()), reverse=True)
    for version in versions:
        stream = fs.open(jvm.org.apache.hadoop.fs.Path(log, f"{version:020d}.json"))
        try:
            text = jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()
        info = next((json.loads(line)["commitInfo"] for line in text.splitlines() if line.startswith('{"commitInfo"')), {})
        yield Commit(version, info.get("operation", ""), info.get("userMetadata"), info.get("operationMetrics") or {})


def newest_commit(spark: SparkSession, path: str) -> Commit:
    """The table's newest commit: its version, run id and Delta's operation metrics."""
    return next(log_commits(spark, path))


def version_holding(spark: SparkSession, settings: Settings, table: Table, run_id: str) -> int:
    """The version of `table` that holds what `run_id` wrote: its latest commit by the run,
    or, when the run changed nothing there, the current version."""
    newest = None
    for depth, commit in enumerate(log_commits(spark, table.path(settings))):
        newest = newest if newest is not None else commit.version
        if commit.user_metadata == run_id:
            return commit.version
        if depth + 1 == HISTORY_DEPTH:
            break
    return newest


def record_commits(
    spark: SparkSession,
    settings: Settings,
    run_id: str,
    step: str,
    tables: list[Table],
    known: dict[str, int] | None = None,
    landed_by: datetime | None = None,
) -> dict[str, int]:
    """Record the versions of `tables` that hold `step` of `run_id`, replacing an earlier
    record of the same run and step (a re-run records what it wrote). `known`: versions the
    step already took from its own commits (the others are looked up in each table's history).
    `landed_by` (a publish but a restatement's): the run's cutoff, the landing time up to
    which it read the files, which later publishes compare with theirs
    (csmetrics.finality.slices_left_alone)."""
    known = known or {}
    versions = {
        t.name: known[t.name] if t.name in known else version_holding(spark, settings, t, run_id)
        for t in tables
        if t.name in known or t.exists(spark, settings)
    }
    now = datetime.now(UTC)
    rows = [(run_id, step, name, version, now, landed_by) for name, version in sorted(versions.items())]
    RUN_COMMITS.ensure(spark, settings)
    frame = spark.createDataFrame(rows, RUN_COMMITS.schema)
    where = f"run_id = {sql_literal(run_id)} AND step = {sql_literal(step)}"
    replace_where(frame, RUN_COMMITS.path(settings), where, [], run_id, add_columns=True)
    return versions
