"""The commit record read from a table's Delta log agrees with Delta's own history()."""

from __future__ import annotations

from datetime import datetime

from delta.tables import DeltaTable

from csmetrics.commits import log_commits, newest_commit, version_holding
from csmetrics.delta_io import replace_where
from csmetrics.tables import RUN_COMMITS


def test_commits_read_from_the_log_are_those_delta_history_shows(spark, settings):
    path = f"{settings.warehouse}/commits_probe"
    # A checkpoint every two commits: the log's listing holds checkpoints among the commits.
    spark.sql(f"CREATE TABLE delta.`{path}` (day int, note string) USING DELTA PARTITIONED BY (day) TBLPROPERTIES ('delta.checkpointInterval' = '2')")
    for run in range(4):
        replace_where(spark.createDataFrame([(run % 3, f"run {run}")], "day int, note string"), path, f"day = {run % 3}", ["day"], f"run-{run}")
    target = DeltaTable.forPath(spark, path)
    target.alias("t").merge(spark.createDataFrame([(1, "merged")], "day int, note string").alias("s"), "t.day = s.day").whenMatchedUpdateAll().execute()

    history = target.history().select("version", "operation", "userMetadata", "operationMetrics").collect()
    read = list(log_commits(spark, path))
    assert [(c.version, c.operation, c.user_metadata, c.operation_metrics) for c in read] == [
        (h.version, h.operation, h.userMetadata, h.operationMetrics) for h in history
    ]
    assert [c.version for c in read] == [5, 4, 3, 2, 1, 0]
    assert read[0].operation == "MERGE" and read[0].operation_metrics["numTargetRowsUpdated"] == "1"
    assert read[1].user_metadata == "run-3" and read[1].operation_metrics["numOutputRows"] == "1"
    assert newest_commit(spark, path).version == 5


def test_the_version_holding_a_run_is_its_last_commit_or_the_current_one(spark, settings):
    path = RUN_COMMITS.path(settings)
    RUN_COMMITS.ensure(spark, settings)
    for run in ("run-a", "run-b", "run-a", "run-c"):
        row = spark.createDataFrame([(run, "publish", "shop_metrics_daily", 1, datetime(2026, 3, 2), None)], RUN_COMMITS.schema)
        replace_where(row, path, f"run_id = '{run}'", [], run)
    # Versions: 0 creates the table, 1 run-a, 2 run-b, 3 run-a, 4 run-c.
    assert version_holding(spark, settings, RUN_COMMITS, "run-a") == 3
    assert version_holding(spark, settings, RUN_COMMITS, "run-b") == 2
    # A run that changed nothing there is held by the current version.
    assert version_holding(spark, settings, RUN_COMMITS, "run-d") == 4
