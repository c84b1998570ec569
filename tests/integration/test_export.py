"""`csmetrics export`: one CSV per stat_date, re-written only when the Change Data Feed shows
that date changed; read with delta-rs, as a consumer outside Spark would."""

from __future__ import annotations

import csv
import os
from datetime import date, datetime

import pyarrow as pa
import pytest
from delta.tables import DeltaTable
from deltalake import DeltaTable as DeltaLakeTable
from deltalake import write_deltalake

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


def test_exporting_from_an_empty_warehouse_says_what_to_do(settings):
    with pytest.raises(SettingsError, match="holds no gold tables: run `csmetrics run --date YYYY-MM-DD` first"):
        export_table(settings, "leaderboard_daily", quiet)
    assert not os.path.exists(settings.export_dir)


def test_exporting_a_table_not_written_yet_names_it(settings):
    write_deltalake(f"{settings.warehouse}/gold/shop_metrics_daily", pa.table({"stat_date": [D1]}))
    with pytest.raises(SettingsError, match="gold/leaderboard_daily does not exist in .* yet"):
        export_table(settings, "leaderboard_daily", quiet)


def write_leaderboard(settings, rows: list[dict], mode: str = "append") -> None:
    """Leaderboard rows written with delta-rs (no Spark), Change Data Feed on like every gold table."""
    write_deltalake(
        f"{settings.warehouse}/gold/leaderboard_daily", pa.Table.from_pylist(rows), mode=mode, partition_by=["stat_date"],
        configuration={"delta.enableChangeDataFeed": "true"},
    )


def state_file(settings) -> str:
    return f"{settings.export_dir}/leaderboard_daily/_exported_version"


@pytest.mark.parametrize("state", ["three\n", "", "-1\n", "1.5\n"])
def test_a_corrupt_export_state_names_the_file_to_delete(settings, state):
    write_leaderboard(settings, [{"stat_date": D1, "shop_id": "a", "rank": 1}])
    os.makedirs(os.path.dirname(state_file(settings)))
    with open(state_file(settings), "w") as f:
        f.write(state)
    with pytest.raises(SettingsError) as refused:
        export_table(settings, "leaderboard_daily", quiet)
    message = str(refused.value)
    assert len(message.splitlines()) == 1, message
    assert f"{state_file(settings)} holds {state.strip()!r}, not a table version: delete it to export every date again" in message


def test_an_export_state_ahead_of_the_table_names_the_file_to_delete(settings):
    write_leaderboard(settings, [{"stat_date": D1, "shop_id": "a", "rank": 1}])
    os.makedirs(os.path.dirname(state_file(settings)))
    with open(state_file(settings), "w") as f:
        f.write("7\n")
    with pytest.raises(SettingsError, match="was exported at version 7 but gold/leaderboard_daily is at version 0"):
        export_table(settings, "leaderboard_daily", quiet)


def test_a_change_feed_removed_by_vacuum_says_to_export_everything_again(settings):
    write_leaderboard(settings, [{"stat_date": D1, "shop_id": "a", "rank": 1}, {"stat_date": D2, "shop_id": "a", "rank": 1}])
    assert export_table(settings, "leaderboard_daily", quiet) == [D1, D2]
    # A rewrite, then a VACUUM with no retention removes the files the feed of that rewrite reads.
    write_leaderboard(settings, [{"stat_date": D1, "shop_id": "b", "rank": 1}], mode="overwrite")
    DeltaLakeTable(f"{settings.warehouse}/gold/leaderboard_daily").vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    with pytest.raises(SettingsError) as refused:
        export_table(settings, "leaderboard_daily", quiet)
    message = str(refused.value)
    assert len(message.splitlines()) == 1, message
    assert "the Change Data Feed of gold/leaderboard_daily after version 0 can no longer be read" in message
    assert f"delete {state_file(settings)} to export every date again" in message

    os.remove(state_file(settings))
    assert export_table(settings, "leaderboard_daily", quiet) == [D1]
