"""Delta writes at the edges: replace a slice atomically, MERGE, run ids in history (tables are created through csmetrics.tables)."""

from __future__ import annotations

import operator
from contextlib import AbstractContextManager
from functools import reduce

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.spark import materialized, release_materialized, session_setting


def table_exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def commit_metadata(spark: SparkSession, run_id: str) -> AbstractContextManager[None]:
    """Tag the Delta commits made inside the block with the run id (DESCRIBE HISTORY shows it)."""
    return session_setting(spark, "spark.databricks.delta.commitInfo.userMetadata", run_id)


def replace_where(frame: DataFrame, path: str, predicate: str, partition_by: list[str], run_id: str, add_columns: bool = False) -> None:
    """Replace exactly the rows matching `predicate` with `frame`, in one transaction.
    `add_columns`: the table gains the columns of `frame` it lacks (created by an older csmetrics)."""
    writer = frame.write.format("delta").mode("overwrite").option("replaceWhere", predicate).option("userMetadata", run_id)
    if add_columns:
        writer = writer.option("mergeSchema", "true")
    writer.partitionBy(*partition_by).save(path)


def sql_literal(value) -> str:
    """A date or string as a Spark SQL literal (quotes and backslashes escaped: shop ids and
    file names come from upstream data)."""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def sql_in(column: str, values) -> str:
    """`column IN ('a', 'b')` for dates and strings."""
    listed = ", ".join(sql_literal(v) for v in values)
    return f"{column} IN ({listed})"


def merge_slice(
    target: DeltaTable,
    rows: DataFrame,
    keys: list[str],
    partition_column: str,
    partition_values,
    ignore: tuple[str, ...] = ("run_id", "computed_at"),
    slice_predicate: str | None = None,
) -> int:
    """Make the partitions `partition_values` of `target` hold exactly `rows`, in at most one MERGE:
    changed rows are updated, new ones inserted, vanished ones deleted, identical ones left
    alone (columns in `ignore` do not count as a change), so the Change Data Feed holds
    exactly what changed. Only the named partitions are read. Returns the rows changed
    (inserted, updated or deleted), from Delta's own metrics of the MERGE (0 when none ran).

    The MERGE is fed the difference of `rows` against the slice, not `rows`: a MERGE with a
    WHEN NOT MATCHED BY SOURCE clause rewrites every file of the slice it scans, even when
    no row changes (bench/RESULTS.md), while one of the difference rewrites only the files
    that hold a changed row. An empty difference runs no MERGE at all.

    `slice_predicate` (over the target, alias t) narrows the slice within those partitions."""
    in_slice = sql_in(f"t.{partition_column}", partition_values)
    if slice_predicate:
        in_slice = f"({in_slice}) AND ({slice_predicate})"
    # Computed once and held under a plan of its own (an RDD, not a cache, which a MERGE that
    # does not copy its source refuses), in place of the copy Delta would make of a source that
    # is not a Delta scan. Rows lost with an executor fail the MERGE rather than change under
    # it; the run's retry computes them again.
    changes = materialized(_changes(target.toDF().alias("t").where(in_slice), rows, keys, ignore))
    try:
        # An empty difference (a re-run, a table the run did not move) needs no MERGE: its
        # file scan, write and commit are saved.
        if changes.isEmpty():
            return 0
        # The MERGE reads the held difference twice (touched files, then the write).
        with session_setting(rows.sparkSession, MATERIALIZE_SOURCE, "none"):
            metrics = (
                target.alias("t")
                .merge(changes.alias("s"), f"{in_slice} AND " + " AND ".join(f"t.{k} = s.{k}" for k in keys))
                .whenMatchedDelete(condition=f"s.{GONE}")
                .whenMatchedUpdate(set={c: f"s.{c}" for c in rows.columns if c not in keys})
                .whenNotMatchedInsert(condition=f"NOT s.{GONE}", values={c: f"s.{c}" for c in rows.columns})
                .execute()
                .first()
            )
        return metrics["num_affected_rows"]
    finally:
        release_materialized(changes)


GONE = "_gone"
MATERIALIZE_SOURCE = "spark.databricks.delta.merge.materializeSource"


def _changes(current: DataFrame, rows: DataFrame, keys: list[str], ignore: tuple[str, ...]) -> DataFrame:
    """The rows of `rows` that are new or differ from `current`'s (beyond the `ignore`d
    columns), and the keys of `current`'s rows that `rows` no longer has (`_gone`)."""
    compared = [c for c in rows.columns if c not in keys and c not in ignore]
    new = rows.withColumn("_in_rows", F.lit(True)).alias("s")
    old = current.select(*keys, *compared, F.lit(True).alias("_in_slice")).alias("o")
    joined = new.join(old, [F.col(f"s.{k}") == F.col(f"o.{k}") for k in keys], "full_outer")
    gone, added = F.col("_in_rows").isNull(), F.col("_in_slice").isNull()
    differs = reduce(operator.or_, [~F.col(f"s.{c}").eqNullSafe(F.col(f"o.{c}")) for c in compared], F.lit(False))
    return joined.where(gone | added | differs).select(
        *(F.coalesce(F.col(f"s.{k}"), F.col(f"o.{k}")).alias(k) for k in keys),
        *(F.col(f"s.{c}") for c in rows.columns if c not in keys),
        gone.alias(GONE),
    )
