"""The gold gate: validate a run's staged metric rows before anything is published."""

from __future__ import annotations

import importlib
from datetime import timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.bronze import read_bronze
from csmetrics.compute import TIMEZONE_MARGIN_DAYS, staging_path
from csmetrics.config import Settings
from csmetrics.delta_io import table_exists
from csmetrics.metrics.conversation import sessions_of_dates
from csmetrics.plan import RunPlan
from csmetrics.quality import gold_views
from csmetrics.quality.checks import COVERAGE, PER_SHOP_DAY, PLATFORM_VOLUME, ROWS, SHOP_VOLUME
from csmetrics.quality.gate import CheckResult, data_docs_index, open_context, raise_on_critical, record_results, validate

METRIC_TABLES = ("shop_metrics_daily", "agent_metrics_daily")

WHAT_TO_DO = (
    "The rows stay in the staging table {staging} for inspection. Fix the cause (input data or job), "
    "then re-run this date; Data Docs at {docs} show every check."
)


def validate_gold(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str) -> list[CheckResult]:
    """Run each staged table's suite, keep every result, fail on a critical one."""
    context = open_context(settings)
    results = []
    for table in METRIC_TABLES:
        suite = importlib.import_module(f"csmetrics.expectations.{table}")
        rows = spark.read.format("delta").load(staging_path(settings, table, run_id))
        frames = {ROWS: rows}
        if table == "shop_metrics_daily":
            frames |= _shop_views(spark, settings, plan, rows)
        checks = suite.expectations(plan.dates, settings.volume_anomaly_factor)
        results += validate(context, f"gold/{table}", frames, checks, suite.KEYS, run_id)
    record_results(spark, settings, run_id, results)
    raise_on_critical(
        results,
        WHAT_TO_DO.format(staging=staging_path(settings, "<table>", run_id), docs=data_docs_index(settings)),
    )
    return results


def _shop_views(spark: SparkSession, settings: Settings, plan: RunPlan, rows: DataFrame) -> dict[str, DataFrame]:
    views = {PER_SHOP_DAY: gold_views.per_shop_day(rows)}
    dates = plan.dates_for("conversation")
    if not dates:
        return views
    sessions = read_bronze(
        spark,
        settings,
        "sessions",
        (dates[0] - timedelta(days=TIMEZONE_MARGIN_DAYS), dates[-1] + timedelta(days=TIMEZONE_MARGIN_DAYS)),
        plan.arrival_cutoff,
    )
    views[COVERAGE] = gold_views.conversation_coverage(rows, sessions_of_dates(sessions, read_bronze(spark, settings, "shops"), dates))
    history = _published_volume(spark, settings, dates)
    views[SHOP_VOLUME] = gold_views.shop_volume(rows, history, dates)
    views[PLATFORM_VOLUME] = gold_views.platform_volume(rows, history, dates)
    return views


def _published_volume(spark: SparkSession, settings: Settings, dates) -> DataFrame:
    """Published consult_sessions rows of the week before the first date to the last."""
    path = settings.table_path("gold", "shop_metrics_daily")
    if not table_exists(spark, path):
        return spark.createDataFrame([], "stat_date date, shop_id string, metric string, segment string, value double")
    first = dates[0] - timedelta(days=gold_views.TRAILING_DAYS)
    return (
        spark.read.format("delta").load(path)
        .where(F.col("stat_date").between(F.lit(first), F.lit(dates[-1])) & (F.col("metric") == gold_views.VOLUME_METRIC))
        .select("stat_date", "shop_id", "metric", "segment", "value")
    )
