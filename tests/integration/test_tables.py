"""The table catalog on real Delta tables: creation with declared layout, catalog
registration, staging clean-up."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import Row

from csmetrics import tables
from csmetrics.commits import newest_commit
from csmetrics.delta_io import replace_where
from csmetrics.tables import BY_METRIC, BY_NAME, SHOP_METRICS_DAILY, LayoutError, drop_stale_staging, staging_path

LEADERBOARD_DAILY = BY_NAME["leaderboard_daily"]
LEADERBOARD_ROW = ("p1", "beauty", date(2026, 3, 2), "reply_3min_rate", 1, "s1", 0.9, 1.0, 5, "final", "run", datetime(2026, 3, 4))


def test_a_table_is_created_with_its_declared_partitioning_and_properties(spark, settings):
    LEADERBOARD_DAILY.ensure(spark, settings)
    detail = DeltaTable.forPath(spark, LEADERBOARD_DAILY.path(settings)).detail().first()
    assert detail["partitionColumns"] == ["stat_date"]
    assert detail["properties"]["delta.enableChangeDataFeed"] == "true"
    SHOP_METRICS_DAILY.ensure(spark, settings)
    assert DeltaTable.forPath(spark, SHOP_METRICS_DAILY.path(settings)).detail().first()["partitionColumns"] == ["stat_date", "metric"]
    assert LEADERBOARD_DAILY.path(settings) == f"{settings.warehouse}/gold/leaderboard_daily"


def test_a_table_is_inspected_from_its_metadata_once_and_only_if_it_was_there_before(spark, settings, monkeypatch):
    # `detail()` also counts the table's files, a job over its whole state: about 1.5 s a gold
    # table in a new driver. A table just created from its declaration is not inspected at all.
    monkeypatch.setattr(DeltaTable, "detail", lambda table: pytest.fail("detail() was called"))
    inspected = []
    layout = tables._layout
    monkeypatch.setattr(tables, "_layout", lambda *args: inspected.append(args[1]) or layout(*args))
    for table in (LEADERBOARD_DAILY, SHOP_METRICS_DAILY):
        table.ensure(spark, settings)
    assert inspected == []
    # The next application finds them as declared: inspected, nothing to change.
    monkeypatch.setattr(tables, "_ENSURED", set())
    for table in (LEADERBOARD_DAILY, SHOP_METRICS_DAILY):
        table.ensure(spark, settings)
    assert inspected == [LEADERBOARD_DAILY.path(settings), SHOP_METRICS_DAILY.path(settings)]
    partition_columns, properties = layout(spark, SHOP_METRICS_DAILY.path(settings))
    assert partition_columns == ["stat_date", "metric"] and properties["delta.enableChangeDataFeed"] == "true"
    for table in (LEADERBOARD_DAILY, SHOP_METRICS_DAILY):
        assert [op for (op,) in DeltaTable.forPath(spark, table.path(settings)).history().select("operation").collect()] == ["CREATE TABLE"]


def test_every_gold_table_keeps_a_change_feed_even_one_created_without_it(spark, settings):
    assert all(t.properties.get("delta.enableChangeDataFeed") == "true" for t in BY_NAME.values())
    # A leaderboard_daily of an older csmetrics, created without the feed.
    spark.createDataFrame([], LEADERBOARD_DAILY.schema).write.format("delta").partitionBy("stat_date").save(LEADERBOARD_DAILY.path(settings))
    table = DeltaTable.forPath(spark, LEADERBOARD_DAILY.path(settings))
    assert "delta.enableChangeDataFeed" not in table.detail().first()["properties"]
    LEADERBOARD_DAILY.ensure(spark, settings)
    LEADERBOARD_DAILY.ensure(spark, settings)
    assert table.detail().first()["properties"]["delta.enableChangeDataFeed"] == "true"
    assert [op for (op,) in table.history().orderBy("version").select("operation").collect()] == ["WRITE", "SET TBLPROPERTIES"]


def test_a_metric_table_of_an_older_layout_is_rewritten_once_by_stat_date_and_metric(spark, settings):
    # shop_metrics_daily as csmetrics created it before: the same declaration, by stat_date
    # only, two metrics of a date in one file.
    path = SHOP_METRICS_DAILY.path(settings)
    DeltaTable.createIfNotExists(spark).location(path).addColumns(SHOP_METRICS_DAILY.schema).partitionedBy("stat_date").property(
        "delta.enableChangeDataFeed", "true"
    ).execute()
    common = dict(
        stat_date=date(2026, 3, 2), shop_id="shop-a", segment="all", numerator=1.0, denominator=2.0, maturity="final",
        final_after=datetime(2026, 3, 4), definition_version="v1", run_id="r0", computed_at=datetime(2026, 3, 3),
    )
    metrics = [{**common, "metric": "pickup_rate", "value": 0.5}, {**common, "metric": "fcr_3d", "value": 0.25}]
    old = spark.createDataFrame([Row(**{f: m[f] for f in SHOP_METRICS_DAILY.schema.fieldNames()}) for m in metrics], SHOP_METRICS_DAILY.schema)
    old.coalesce(1).write.format("delta").mode("append").save(path)
    table = DeltaTable.forPath(spark, path)

    # A run stops with what to do; `csmetrics maintain` asks for the rewrite.
    with pytest.raises(LayoutError, match="partitioned by \\['stat_date'\\]; .* Run `csmetrics maintain` once"):
        SHOP_METRICS_DAILY.ensure(spark, settings)
    assert table.detail().first()["partitionColumns"] == ["stat_date"]
    ensured = SHOP_METRICS_DAILY.ensure(spark, settings, relayout=True)
    SHOP_METRICS_DAILY.ensure(spark, settings)

    assert table.detail().first()["partitionColumns"] == ["stat_date", "metric"]
    stored = spark.read.format("delta").load(path)
    assert sorted(tuple(r) for r in stored.collect()) == sorted(tuple(r) for r in old.collect())
    assert sorted(tuple(r) for r in ensured.toDF().collect()) == sorted(tuple(r) for r in old.collect())
    operations = [(op, who) for op, who in table.history().orderBy("version").select("operation", "userMetadata").collect()]
    assert operations == [("CREATE TABLE", None), ("WRITE", None), ("WRITE", "csmetrics-relayout")]
    # Replacing one metric's slice now copies none of the other's rows.
    replace_where(old.where("metric = 'fcr_3d'"), path, "stat_date = '2026-03-02' AND metric = 'fcr_3d'", list(BY_METRIC), "r")
    assert newest_commit(spark, path).operation_metrics.get("numCopiedRows", "0") == "0"


def test_gold_tables_are_registered_when_a_catalog_schema_is_configured(spark, settings):
    assert not spark.catalog.tableExists("csmetrics_test.shop_metrics_daily")
    SHOP_METRICS_DAILY.ensure(spark, replace(settings, catalog_schema="csmetrics_test"))
    assert spark.catalog.tableExists("csmetrics_test.shop_metrics_daily")
    assert spark.table("csmetrics_test.shop_metrics_daily").columns == SHOP_METRICS_DAILY.schema.fieldNames()
    spark.sql("DROP TABLE csmetrics_test.shop_metrics_daily")


def test_a_table_is_checked_once_per_application_even_after_log_cleanup_removed_its_first_commit(spark, settings, monkeypatch):
    path = LEADERBOARD_DAILY.path(settings)
    LEADERBOARD_DAILY.ensure(spark, settings)
    checked = []
    complete = type(LEADERBOARD_DAILY)._create_or_complete
    monkeypatch.setattr(type(LEADERBOARD_DAILY), "_create_or_complete", lambda *args: checked.append(1) or complete(*args))
    # A checkpoint, then what log cleanup does 30 days on: the commits before it are removed.
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.checkpointInterval' = '1')")
    spark.createDataFrame([LEADERBOARD_ROW], LEADERBOARD_DAILY.schema).write.format("delta").mode("append").save(path)
    log = Path(path) / "_delta_log"
    assert (log / "_last_checkpoint").exists()
    commits = sorted(f for f in log.glob("*.json") if f.stem.isdigit())
    for commit in commits[:-1]:
        commit.unlink()
    LEADERBOARD_DAILY.ensure(spark, settings)
    assert checked == []
    # A table removed while the application runs is created again.
    shutil.rmtree(path)
    LEADERBOARD_DAILY.ensure(spark, settings)
    assert checked == [1]
    assert DeltaTable.isDeltaTable(spark, path)


def test_stale_staging_tables_are_dropped_and_recent_ones_kept(spark, settings):
    for run_id in ("old_run", "new_run"):
        spark.range(1).write.format("delta").save(staging_path(settings, "shop_metrics_daily", run_id))
    eight_days_ago = time.time() - 8 * 86400
    os.utime(staging_path(settings, "shop_metrics_daily", "old_run"), (eight_days_ago, eight_days_ago))
    assert drop_stale_staging(spark, settings) == 1  # CSMETRICS_STAGING_KEEP_DAYS, 7 by default
    assert not os.path.exists(staging_path(settings, "shop_metrics_daily", "old_run"))
    assert os.path.exists(staging_path(settings, "shop_metrics_daily", "new_run"))
    two_days_ago = time.time() - 2 * 86400
    os.utime(staging_path(settings, "shop_metrics_daily", "new_run"), (two_days_ago, two_days_ago))
    assert drop_stale_staging(spark, replace(settings, staging_keep_days=3)) == 0
    assert drop_stale_staging(spark, replace(settings, staging_keep_days=1)) == 1


def test_bronze_keeps_file_statistics_of_the_columns_it_is_read_by_and_maintain_gives_them_to_an_older_table(spark, settings, monkeypatch):
    """Delta's statistics of every column cost about an eighth of ingest's append: a bronze table
    keeps those of shop_id, _landed_at and _run_id (its reads filter on them). A bronze table
    of an older csmetrics gets the setting from `csmetrics maintain`, not from a daily run."""
    import json

    from csmetrics.maintain import compact_and_vacuum

    messages = tables.bronze("messages")
    messages.ensure(spark, settings)
    row = {f.name: None for f in messages.schema.fields} | {
        "message_id": "m1", "session_id": "s1", "shop_id": "shop1", "sender_role": "buyer", "sent_at": datetime(2026, 3, 2, 8),
        "msg_type": "text", "event_date": date(2026, 3, 2), "_landed_at": datetime(2026, 3, 2, 9), "_run_id": "r1",
    }
    spark.createDataFrame([row], messages.schema).write.format("delta").mode("append").save(messages.path(settings))
    log = Path(messages.path(settings)) / "_delta_log" / f"{newest_commit(spark, messages.path(settings)).version:020d}.json"
    [stats] = [json.loads(json.loads(line)["add"]["stats"]) for line in log.read_text().splitlines() if line.startswith('{"add"')]
    assert stats["numRecords"] == 1
    assert set(stats["minValues"]) == set(stats["maxValues"]) == {"shop_id", "_landed_at", "_run_id"}

    # An older bronze table: a run's ensure leaves it alone (no query, no commit); maintain sets it.
    ratings = tables.bronze("ratings")
    spark.createDataFrame([], ratings.schema).write.format("delta").partitionBy("event_date").save(ratings.path(settings))
    monkeypatch.setattr(tables, "_ENSURED", set())
    ratings.ensure(spark, settings)
    assert "delta.dataSkippingStatsColumns" not in tables._properties(spark, ratings.path(settings))
    compact_and_vacuum(spark, settings, ratings)
    assert tables._properties(spark, ratings.path(settings))["delta.dataSkippingStatsColumns"] == "shop_id,_landed_at,_run_id"


def test_a_table_is_read_through_its_declaration_and_read_as_empty_before_anything_wrote_it(spark, settings):
    # Before any run: no rows, but the declared columns, so that a query over it plans.
    empty = LEADERBOARD_DAILY.read_or_empty(spark, settings)
    assert (empty.schema, empty.count()) == (LEADERBOARD_DAILY.schema, 0)
    LEADERBOARD_DAILY.ensure(spark, settings)
    rows = spark.createDataFrame([LEADERBOARD_ROW], LEADERBOARD_DAILY.schema)
    rows.write.format("delta").mode("append").save(LEADERBOARD_DAILY.path(settings))
    changed = spark.createDataFrame([LEADERBOARD_ROW[:6] + (0.5,) + LEADERBOARD_ROW[7:]], LEADERBOARD_DAILY.schema)
    replace_where(changed, LEADERBOARD_DAILY.path(settings), "stat_date = '2026-03-02'", ["stat_date"], "run2")

    assert [r.value for r in LEADERBOARD_DAILY.read_or_empty(spark, settings).collect()] == [0.5]
    # Delta's read options pass through: an earlier version, and the change feed since it.
    assert [r.value for r in LEADERBOARD_DAILY.read(spark, settings, versionAsOf="1").collect()] == [0.9]
    feed = LEADERBOARD_DAILY.read(spark, settings, readChangeFeed="true", startingVersion="2").collect()
    assert sorted((r._change_type, r.value) for r in feed) == [("delete", 0.9), ("insert", 0.5)]


def inline_delta_reads(text: str) -> list[int]:
    """Lines of Python `text` that read a Delta table with Spark's reader: a call chain that
    starts at `.read` (or `.readStream`) and names the format "delta" (`.format("delta")`, or
    `format="delta"` given to `load`)."""
    import ast

    def from_reader(node) -> bool:
        while isinstance(node, (ast.Call, ast.Attribute)):
            if isinstance(node, ast.Attribute) and node.attr in ("read", "readStream"):
                return True
            node = node.func if isinstance(node, ast.Call) else node.value
        return False

    def names_delta(call: ast.Call) -> bool:
        delta = lambda node: isinstance(node, ast.Constant) and node.value == "delta"  # noqa: E731
        by_format = isinstance(call.func, ast.Attribute) and call.func.attr == "format" and any(map(delta, call.args))
        return by_format or any(k.arg == "format" and delta(k.value) for k in call.keywords)

    calls = [node for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Call)]
    return sorted({call.lineno for call in calls if names_delta(call) and from_reader(call.func)})


def test_the_jobs_read_delta_tables_only_through_the_table_catalog():
    """`Table.read` is the one door to a table (issue 29, "reads go through the table catalog"):
    a path spelled out at a read would miss a table's move or rename."""
    # The matcher finds the spellings of a read, and leaves other formats and writes alone.
    spellings = (
        'a = spark.read.format("delta").load(p)\n'
        'b = spark.read.option("versionAsOf", 1).format("delta").load(p)\n'
        'c = spark.read.load(p, format="delta")\n'
        'd = spark.readStream.format("delta").load(p)\n'
        'e = spark.read.format("parquet").load(p)\n'
        'f = rows.write.format("delta").save(p)\n'
    )
    assert inline_delta_reads(spellings) == [1, 2, 3, 4]
    package = Path(tables.__file__).parent
    assert inline_delta_reads((package / "tables.py").read_text())  # the one door itself
    inline = [
        f"{source.relative_to(package)}:{line}"
        for source in sorted(package.rglob("*.py")) if source.name != "tables.py"
        for line in inline_delta_reads(source.read_text())
    ]
    assert inline == []
