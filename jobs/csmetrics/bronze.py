"""Bronze tables: where they live and how jobs read them as of an arrival cutoff.

Bronze keeps every valid version of a record with the time its file landed (`_landed_at`),
so a job can see the data exactly as it had landed by any cutoff: the latest `updated_at`
per key among versions that had landed (SPEC §2). Snapshots (shops, agents) keep every
changed version too, so a shop's timezone, category and tier are read as they were at the
cutoff. Daily runs, replays and backfills then read the same inputs for the same date,
which is what makes them converge.
"""

from __future__ import annotations

from datetime import date, datetime

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from csmetrics.config import Settings
from csmetrics.schemas.bronze import EVENT_DATE
from csmetrics.schemas.raw import RAW_TABLES
from csmetrics.tables import bronze


def bronze_path(settings: Settings, table: str) -> str:
    return bronze(table).path(settings)



def read_bronze(
    spark: SparkSession,
    settings: Settings,
    table: str,
    event_dates: tuple[date, date] | None = None,
    cutoff: datetime | None = None,
    with_event_date: bool = False,
) -> DataFrame:
    """Rows of a bronze table as they had landed by `cutoff` (None: everything landed):
    partitions in `event_dates` (inclusive UTC range), the latest `updated_at` per key;
    for snapshots, each key's latest version landed by the cutoff. `with_event_date` keeps
    the UTC event date partition column (not for snapshots), to cut the rows to narrower
    ranges later."""
    contract = RAW_TABLES[table]
    declared = bronze(table)
    if not declared.exists(spark, settings):
        # Nothing of this table has landed yet (e.g. no after-sale ticket so far).
        empty = spark.createDataFrame([], contract.schema)
        return empty.withColumn(EVENT_DATE, F.lit(None).cast("date")) if with_event_date and contract.event_time is not None else empty
    rows = declared.read(spark, settings)
    if event_dates is not None and contract.event_time is not None:
        rows = rows.where(F.col(EVENT_DATE).between(F.lit(event_dates[0]), F.lit(event_dates[1])))
    if cutoff is not None:
        rows = rows.where(F.col("_landed_at") <= F.lit(cutoff))
    kept = [EVENT_DATE] if with_event_date and contract.event_time is not None else []
    return latest_versions(rows, table).select(*contract.columns, *kept)


def latest_versions(rows: DataFrame, table: str, within: tuple[str, ...] = ()) -> DataFrame:
    """Bronze `rows` of `table` with one version per key (per key and `within` columns): the
    latest `updated_at`; for snapshots, the latest landed."""
    contract = RAW_TABLES[table]
    if contract.is_snapshot:
        order = [F.col("_landed_at").desc(), F.col("_row_hash")]
    elif contract.has_updated_at:
        order = [F.col("updated_at").desc(), F.col("_landed_at").desc()]
    else:
        return rows
    latest = Window.partitionBy(*within, contract.primary_key).orderBy(*order)
    return rows.withColumn("_version", F.row_number().over(latest)).where("_version = 1").drop("_version")
