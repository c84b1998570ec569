"""The table catalog on real Delta tables: creation with declared layout, catalog
registration, staging clean-up."""

from __future__ import annotations

import os
import time
from dataclasses import replace

from delta.tables import DeltaTable

from csmetrics.tables import BY_NAME, SHOP_METRICS_DAILY, drop_stale_staging, staging_path

LEADERBOARD_DAILY = BY_NAME["leaderboard_daily"]


def test_a_table_is_created_with_its_declared_partitioning_and_properties(spark, settings):
    LEADERBOARD_DAILY.ensure(spark, settings)
    detail = DeltaTable.forPath(spark, LEADERBOARD_DAILY.path(settings)).detail().first()
    assert detail["partitionColumns"] == ["stat_date"]
    assert detail["properties"]["delta.enableChangeDataFeed"] == "true"
    assert LEADERBOARD_DAILY.path(settings) == f"{settings.warehouse}/gold/leaderboard_daily"


def test_every_gold_table_keeps_a_change_feed_even_one_created_without_it(spark, settings):
    assert all(t.properties.get("delta.enableChangeDataFeed") == "true" for t in BY_NAME.values())
    # A shop_metrics_daily of an older csmetrics, created without the feed.
    spark.createDataFrame([], SHOP_METRICS_DAILY.schema).write.format("delta").partitionBy("stat_date").save(SHOP_METRICS_DAILY.path(settings))
    table = DeltaTable.forPath(spark, SHOP_METRICS_DAILY.path(settings))
    assert "delta.enableChangeDataFeed" not in table.detail().first()["properties"]
    SHOP_METRICS_DAILY.ensure(spark, settings)
    SHOP_METRICS_DAILY.ensure(spark, settings)
    assert table.detail().first()["properties"]["delta.enableChangeDataFeed"] == "true"
    assert [op for (op,) in table.history().orderBy("version").select("operation").collect()] == ["WRITE", "SET TBLPROPERTIES"]


def test_gold_tables_are_registered_when_a_catalog_schema_is_configured(spark, settings):
    assert not spark.catalog.tableExists("csmetrics_test.shop_metrics_daily")
    SHOP_METRICS_DAILY.ensure(spark, replace(settings, catalog_schema="csmetrics_test"))
    assert spark.catalog.tableExists("csmetrics_test.shop_metrics_daily")
    assert spark.table("csmetrics_test.shop_metrics_daily").columns == SHOP_METRICS_DAILY.schema.fieldNames()
    spark.sql("DROP TABLE csmetrics_test.shop_metrics_daily")


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
