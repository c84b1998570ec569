"""The run-level commit record (quality/run_commits).

Each gold table is replaced or merged in its own Delta transaction, so a run killed between
two of them leaves some tables at the new run and some at the previous one (docs/reliability.md).
After a step has written all its tables, it records one row per table with the version that
holds its result. A reader that needs every table at one run reads each at its recorded
version (`VERSION AS OF`); a step without its rows did not finish, and the run's re-run
records it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from delta.tables import DeltaTable
from pyspark.sql import Row, SparkSession

from csmetrics.config import Settings
from csmetrics.delta_io import replace_where, sql_literal
from csmetrics.tables import RUN_COMMITS, Table

# How far back in a table's history a step looks for its own commit (a step makes one per
# table; concurrent runs of other dates may have committed since).
HISTORY_DEPTH = 50


def newest_commit(spark: SparkSession, path: str) -> Row:
    """The table's newest commit: its version, run id (userMetadata: csmetrics.delta_io) and
    Delta's operation metrics, read from the log."""
    return DeltaTable.forPath(spark, path).history(1).select("version", "userMetadata", "operationMetrics").collect()[0]


def version_holding(spark: SparkSession, settings: Settings, table: Table, run_id: str) -> int:
    """The version of `table` that holds what `run_id` wrote: its latest commit by the run,
    or, when the run changed nothing there, the current version. The history is a few rows
    read from the log."""
    commits = DeltaTable.forPath(spark, table.path(settings)).history(HISTORY_DEPTH).select("version", "userMetadata").collect()
    own = [c.version for c in commits if c.userMetadata == run_id]
    return max(own) if own else max(c.version for c in commits)


def record_commits(
    spark: SparkSession, settings: Settings, run_id: str, step: str, tables: list[Table], known: dict[str, int] | None = None
) -> dict[str, int]:
    """Record the versions of `tables` that hold `step` of `run_id`, replacing an earlier
    record of the same run and step (a re-run records what it wrote). `known`: versions the
    step already took from its own commits (the others are looked up in each table's history)."""
    known = known or {}
    versions = {
        t.name: known[t.name] if t.name in known else version_holding(spark, settings, t, run_id)
        for t in tables
        if t.name in known or t.exists(spark, settings)
    }
    now = datetime.now(UTC)
    rows = [(run_id, step, name, version, now) for name, version in sorted(versions.items())]
    RUN_COMMITS.ensure(spark, settings)
    frame = spark.createDataFrame(rows, RUN_COMMITS.schema)
    replace_where(frame, RUN_COMMITS.path(settings), f"run_id = {sql_literal(run_id)} AND step = {sql_literal(step)}", [], run_id)
    return versions
