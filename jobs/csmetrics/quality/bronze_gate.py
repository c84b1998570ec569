"""The bronze gate: validate what a run's ingestion wrote before any metric is computed from it."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.bronze import read_bronze
from csmetrics.config import Settings
from csmetrics.expectations import bronze as bronze_suite
from csmetrics.quality.checks import ROWS
from csmetrics.quality.gate import (
    CheckResult,
    GxProject,
    TableChecks,
    build_data_docs,
    data_docs_index,
    raise_on_critical,
    record_results,
    validate_tables,
)
from csmetrics.schemas.raw import RAW_TABLES
from csmetrics.tables import INGEST_LOG, bronze

WHAT_TO_DO = (
    "No metric was computed. The offending rows are in bronze with _run_id = '{run_id}'; they passed "
    "ingestion's own rules, so suspect the job or a hand-made write. Remove them (Delta DELETE or RESTORE), "
    "fix the cause and re-run this date; Data Docs at {docs} show the failed checks with their failing keys."
)


def ingested_tables(spark: SparkSession, settings: Settings, run_id: str) -> list[str]:
    """Raw tables of which this run ingested at least one file (a small list)."""
    if not INGEST_LOG.exists(spark, settings):
        return []  # a list at once: the collect of an empty frame would still be a Spark job
    rows = INGEST_LOG.read(spark, settings).where(F.col("run_id") == run_id).select("table").distinct().collect()
    return sorted(row["table"] for row in rows)


def written_by(spark: SparkSession, settings: Settings, table: str, run_id: str) -> DataFrame:
    """Bronze rows the run inserted or updated (Delta file statistics skip older files)."""
    return bronze(table).read_or_empty(spark, settings).where(F.col("_run_id") == run_id)


def with_shop_row(records: DataFrame, shops: DataFrame) -> DataFrame:
    """`records` with `has_shop_row`: whether the record's shop has a valid snapshot row.
    One row per record, so the table's own checks and this one are one aggregation."""
    known = shops.select("shop_id").distinct().withColumn("has_shop_row", F.lit(True))
    return records.join(F.broadcast(known), "shop_id", "left").fillna(False, ["has_shop_row"])


def validate_bronze(
    spark: SparkSession, settings: Settings, run_id: str, appended: dict[str, DataFrame | None] | None = None
) -> list[CheckResult]:
    """Run the suite of every bronze table this run wrote, keep the results, fail on a critical one.

    `appended`: the rows this run's ingest appended, per table (`IngestReport.appended`: held
    by the ingest of the same application, `has_shop_row` included). Without it, as in a
    process of its own, they are read back from bronze by run id."""
    project = GxProject(settings)
    checked = []
    tables = sorted(appended) if appended is not None else ingested_tables(spark, settings, run_id)
    for table in tables:
        written = appended.get(table) if appended is not None else None
        if written is None:
            written = written_by(spark, settings, table, run_id)
            if RAW_TABLES[table].event_time:
                written = with_shop_row(written, read_bronze(spark, settings, "shops"))
        checked.append(TableChecks(f"bronze/{table}", {ROWS: written}, bronze_suite.expectations(table), bronze_suite.keys(table)))
    results = validate_tables(project, checked, run_id)
    if results:
        record_results(spark, settings, run_id, results)
        build_data_docs(project)
    raise_on_critical(results, WHAT_TO_DO.format(run_id=run_id, docs=data_docs_index(settings)))
    return results
