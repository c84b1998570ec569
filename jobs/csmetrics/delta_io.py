"""Delta writes at the edges: create tables, replace a slice atomically, MERGE, run ids in history."""

from __future__ import annotations

from contextlib import contextmanager

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T


def ensure_table(spark: SparkSession, path: str, schema: T.StructType, partition_by: list[str]) -> DeltaTable:
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    return builder.execute()


def table_exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


@contextmanager
def commit_metadata(spark: SparkSession, run_id: str):
    """Tag the Delta commits made inside the block with the run id (DESCRIBE HISTORY shows it)."""
    key = "spark.databricks.delta.commitInfo.userMetadata"
    spark.conf.set(key, run_id)
    try:
        yield
    finally:
        spark.conf.unset(key)


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


def sql_in(column: str, values) -> str:
    """`column IN ('a', 'b')` for dates and strings (values come from code, not users)."""
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({listed})"
