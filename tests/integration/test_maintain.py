"""`csmetrics maintain`: compaction and VACUUM that keep time travel for the retention, and
GX results past it removed."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from delta.tables import DeltaTable

from csmetrics.maintain import GX_RUN_FOLDERS, maintain
from csmetrics.tables import BY_NAME, SHOP_METRICS_DAILY

D = date(2026, 3, 2)
quiet = lambda message: None  # noqa: E731


def metric_row(shop: str) -> tuple:
    return (D, shop, "pickup_rate", "all", 1.0, 2.0, 0.5, "provisional", datetime(2026, 3, 4, 14), "v1", "run1", datetime(2026, 3, 3, 14))


def test_maintenance_compacts_keeps_time_travel_and_drops_old_data_docs(spark, settings):
    settings = replace(settings, retain_days=30)
    SHOP_METRICS_DAILY.ensure(spark, settings)
    path = SHOP_METRICS_DAILY.path(settings)
    for shop in ("a", "b", "c"):  # three daily MERGEs' worth of small files in one partition
        spark.createDataFrame([metric_row(shop)], SHOP_METRICS_DAILY.schema).write.format("delta").mode("append").save(path)
    table = DeltaTable.forPath(spark, path)
    assert table.detail().first()["numFiles"] == 3
    pages = Path(settings.gx_project) / GX_RUN_FOLDERS[1]
    (pages / "old_run").mkdir(parents=True)
    (pages / "new_run").mkdir()
    forty_days_ago = time.time() - 40 * 86400
    os.utime(pages / "old_run", (forty_days_ago, forty_days_ago))

    files = maintain(spark, settings, quiet)

    assert files["gold/shop_metrics_daily"] == (3, 1)
    operations = [r.operation for r in table.history().collect()]
    assert "OPTIMIZE" in operations and "VACUUM END" in operations
    # The files OPTIMIZE replaced are younger than the retention: the version of the second
    # append still reads.
    as_of = spark.read.format("delta").option("versionAsOf", 2).load(path)
    assert sorted(r.shop_id for r in as_of.collect()) == ["a", "b"]
    assert sorted(r.shop_id for r in spark.read.format("delta").load(path).collect()) == ["a", "b", "c"]
    assert sorted(p.name for p in pages.iterdir()) == ["new_run"]
    assert (Path(settings.gx_project) / "gx/uncommitted/data_docs/local_site/index.html").exists()


def test_maintenance_lays_out_a_metric_table_of_an_older_csmetrics_by_stat_date_and_metric(spark, settings):
    path = SHOP_METRICS_DAILY.path(settings)
    spark.createDataFrame([metric_row("a"), metric_row("b")], SHOP_METRICS_DAILY.schema).write.format("delta").partitionBy("stat_date").save(path)

    maintain(spark, settings, quiet)

    assert DeltaTable.forPath(spark, path).detail().first()["partitionColumns"] == ["stat_date", "metric"]
    assert sorted(r.shop_id for r in spark.read.format("delta").load(path).collect()) == ["a", "b"]


def test_maintenance_lays_out_the_trends_of_an_older_csmetrics_by_grain_and_period(spark, settings):
    # Partitioned by grain alone, every run's MERGE read and rewrote every day of history.
    trends = BY_NAME["shop_metric_trends"]
    path = trends.path(settings)
    rows = [(grain, D, shop, "pickup_rate", "all", 0.5, 0.4, 0.25, "final", "run1", datetime(2026, 3, 3, 14))
            for grain in ("day", "week") for shop in ("a", "b")]
    spark.createDataFrame(rows, trends.schema).write.format("delta").partitionBy("grain").save(path)

    maintain(spark, settings, quiet)

    assert DeltaTable.forPath(spark, path).detail().first()["partitionColumns"] == ["grain", "period_start"]
    assert sorted(tuple(r) for r in spark.read.format("delta").load(path).collect()) == sorted(rows)
