"""`delta_io.merge_slice` on a small partitioned Delta table: the rows it changes, and the
files it rewrites (derive writes every derived table with it)."""

from __future__ import annotations

from datetime import date

from delta.tables import DeltaTable

from csmetrics.delta_io import merge_slice

MONDAY, TUESDAY, WEDNESDAY = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
SCHEMA = "day date, shop string, value double, run_id string"
KEYS = ["day", "shop"]


def last_merge(table: DeltaTable) -> dict[str, int]:
    metrics = table.history(1).first().operationMetrics
    return {name: int(metrics[name]) for name in ("numTargetFilesRemoved", "numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted")}


def test_a_slice_merge_changes_and_rewrites_only_what_differs(spark, tmp_path):
    path = str(tmp_path / "table")
    first = [(day, f"shop{i}", float(i), "run-1") for day in (MONDAY, TUESDAY, WEDNESDAY) for i in range(4)]
    # One file a day.
    spark.createDataFrame(first, SCHEMA).repartition(1).write.format("delta").partitionBy("day").save(path)
    table = DeltaTable.forPath(spark, path)

    # The same values from another run: no row changes, and no file is rewritten (an empty
    # difference runs no MERGE and commits nothing).
    again = [(day, shop, value, "run-2") for day, shop, value, _ in first if day != WEDNESDAY]
    assert merge_slice(table, spark.createDataFrame(again, SCHEMA), KEYS, "day", [MONDAY, TUESDAY], ignore=("run_id",)) == 0
    assert table.history().count() == 1

    # The slice is shop0's rows' complement. Tuesday: shop1's value changes, shop3 is gone,
    # shop9 is new; shop0 is outside the slice, so missing from the rows it stays. Monday is
    # as it was.
    tuesday = [(TUESDAY, "shop1", 10.0, "run-3"), (TUESDAY, "shop2", 2.0, "run-3"), (TUESDAY, "shop9", 9.0, "run-3")]
    monday = [(MONDAY, f"shop{i}", float(i), "run-3") for i in range(1, 4)]
    changed = merge_slice(
        table, spark.createDataFrame(monday + tuesday, SCHEMA), KEYS, "day", [MONDAY, TUESDAY], ignore=("run_id",), slice_predicate="t.shop <> 'shop0'"
    )
    assert changed == 3
    assert last_merge(table) == {"numTargetFilesRemoved": 1, "numTargetRowsInserted": 1, "numTargetRowsUpdated": 1, "numTargetRowsDeleted": 1}
    rows = sorted(tuple(r) for r in table.toDF().collect())
    # A list, not keyed: a duplicated row must show.
    assert [r for r in rows if r[0] == TUESDAY] == [
        (TUESDAY, "shop0", 0.0, "run-1"), (TUESDAY, "shop1", 10.0, "run-3"), (TUESDAY, "shop2", 2.0, "run-1"), (TUESDAY, "shop9", 9.0, "run-3"),
    ]
    assert [r for r in rows if r[0] != TUESDAY] == sorted(r for r in first if r[0] != TUESDAY)
