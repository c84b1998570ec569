"""Delta writes at the edges: replace a slice atomically, MERGE, run ids in history (tables are created through csmetrics.tables)."""

from __future__ import annotations

from contextlib import AbstractContextManager

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from csmetrics.spark import session_setting


def table_exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def commit_metadata(spark: SparkSession, run_id: str) -> AbstractContextManager[None]:
    """Tag the Delta commits made inside the block with the run id (DESCRIBE HISTORY shows it)."""
    return session_setting(spark, "spark.databricks.delta.commitInfo.userMetadata", run_id)


def replace_where(frame: DataFrame, path: str, predicate: str, partition_by: list[str], run_id: str) -> None:
    """Replace exactly the rows matching `predicate` with `frame`, in one transaction."""
    (
        frame.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", predicate)
        .option("userMetadata", run_id)
        .partitionBy(*partition_by)
        .save(path)
    )


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
    """Make the partitions `partition_values` of `target` hold exactly `rows`, in one MERGE:
    changed rows are updated, new ones inserted, vanished ones deleted, identical ones left
    alone (columns in `ignore` do not count as a change), so the Change Data Feed holds
    exactly what changed. Only the named partitions are read. Returns the rows changed
    (inserted, updated or deleted), from Delta's own metrics of the MERGE.

    `slice_predicate` (over the target, alias t) narrows the slice within those partitions."""
    in_slice = sql_in(f"t.{partition_column}", partition_values)
    if slice_predicate:
        in_slice = f"({in_slice}) AND ({slice_predicate})"
    compared = [c for c in rows.columns if c not in keys and c not in ignore]
    metrics = (
        target.alias("t")
        .merge(rows.alias("s"), f"{in_slice} AND " + " AND ".join(f"t.{k} = s.{k}" for k in keys))
        .whenMatchedUpdateAll(condition=" OR ".join(f"NOT (t.{c} <=> s.{c})" for c in compared))
        .whenNotMatchedInsertAll()
        .whenNotMatchedBySourceDelete(condition=in_slice)
        .execute()
        .first()
    )
    return metrics["num_affected_rows"]
