"""`csmetrics export`: one CSV per stat_date, re-written only when the Change Data Feed shows
that date changed; read with delta-rs, as a consumer outside Spark would."""

from __future__ import annotations

import csv
import os
from datetime import date, datetime

import pytest
from delta.tables import DeltaTable

from csmetrics.config import SettingsError
from csmetrics.export import export_table
from csmetrics.tables import BY_NAME

LEADERBOARD = BY_NAME["leaderboard_daily"]
D1, D2 = date(2026, 3, 2), date(2026, 3, 3)
quiet = lambda message: None  # noqa: E731


def ranked(day: date, shop: str, rank: int, value: float) -> tuple:
    return ("taobao", "food", day, "reply_3min_rate", rank, shop, value, 1.0 - (rank - 1) / 2, 2, "provisional", "run1", datetime(2026, 3, 4, 14))


def exported(settings, day: date) -> list[tuple[str, str, str]]:
    with open(f"{settings.export_dir}/leaderboard_daily/stat_date={day}.csv", newline="") as f:
        return [(r["rank"], r["shop_id"], r["value"]) for r in csv.DictReader(f)]


def test_each_export_rewrites_only_the_dates_that_changed(spark, settings):
    LEADERBOARD.ensure(spark, settings)
    rows = [ranked(D1, "a", 1, 0.9), ranked(D1, "b", 2, 0.5), ranked(D2, "a", 1, 0.8), ranked(D2, "b", 2, 0.7)]
    spark.createDataFrame(rows, LEADERBOARD.schema).write.format("delta").mode("append").save(LEADERBOARD.path(settings))

    assert export_table(settings, "leaderboard_daily", quiet) == [D1, D2]
    assert exported(settings, D1) == [("1", "a", "0.9"), ("2", "b", "0.5")]
    assert exported(settings, D2) == [("1", "a", "0.8"), ("2", "b", "0.7")]
    assert export_table(settings, "leaderboard_daily", quiet) == []

    # b overtakes a on D2 (a later run's MERGE, as derive writes it).
    changed = spark.createDataFrame([ranked(D2, "b", 1, 0.95), ranked(D2, "a", 2, 0.8)], LEADERBOARD.schema)
    (
        DeltaTable.forPath(spark, LEADERBOARD.path(settings)).alias("t")
        .merge(changed.alias("s"), "t.stat_date = s.stat_date AND t.metric = s.metric AND t.shop_id = s.shop_id")
        .whenMatchedUpdateAll().execute()
    )
    assert export_table(settings, "leaderboard_daily", quiet) == [D2]
    assert exported(settings, D2) == [("1", "b", "0.95"), ("2", "a", "0.8")]
    assert exported(settings, D1) == [("1", "a", "0.9"), ("2", "b", "0.5")]


def test_exporting_a_table_that_does_not_exist_says_what_to_do(settings):
    with pytest.raises(SettingsError, match="is not a Delta table yet: run the daily pipeline first"):
        export_table(settings, "leaderboard_daily", quiet)
    assert not os.path.exists(settings.export_dir)
