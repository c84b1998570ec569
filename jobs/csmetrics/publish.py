"""Publish a run's staged rows, once the gold gate has passed: replace exactly its slice of gold."""

from __future__ import annotations

from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from csmetrics.commits import record_commits
from csmetrics.config import Settings
from csmetrics.delta_io import replace_where, sql_in, sql_literal, table_exists
from csmetrics.plan import RunPlan, slices_predicate
from csmetrics.quality.gold_gate import held_back_keys
from csmetrics.tables import BY_NAME, PUBLISHED_TABLES, SESSION_DETAIL_DAILY, SHOP_METRICS_DAILY, drop_run_staging, staging_path

# A date's session detail is final when its conversation metrics are (the same window).
DETAIL_FINAL_WITH = "consult_sessions"


def gold_path(settings: Settings, table: str) -> str:
    return BY_NAME[table].path(settings)


def final_slices(spark: SparkSession, settings: Settings, start: date, end: date) -> list[tuple[date, str]]:
    """The (stat_date, metric) slices of [start, end] already final in gold (a small list)."""
    path = SHOP_METRICS_DAILY.path(settings)
    if not table_exists(spark, path):
        return []
    rows = (
        spark.read.format("delta").load(path)
        .where(F.col("stat_date").between(F.lit(start), F.lit(end)) & (F.col("maturity") == "final"))
        .select("stat_date", "metric")
        .distinct()
        .collect()
    )
    return sorted((row["stat_date"], row["metric"]) for row in rows)


def publish(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str) -> dict[str, int]:
    """Replace, per gold table and in one Delta commit each, exactly the (date, metric) slice
    the run owns, except the shop-days the gold gate held back: their rows stay as they were."""
    written = {}
    held = held_back_keys(spark, settings, run_id)
    predicate = plan.replace_predicate()
    # The session detail: whole dates, those of the conversation metrics the plan owns.
    detail_dates = plan.dates_for("conversation")
    detail_predicate = sql_in("stat_date", [str(day) for day in detail_dates])
    if not plan.restate:
        # SPEC §5: a run never rewrites a row already final unless asked to restate. A re-run
        # of an earlier date would otherwise write its later dates back as provisional.
        owned = plan.metrics_by_date()
        final: dict[date, list[str]] = {}
        for day, metric in final_slices(spark, settings, plan.dates[0], plan.dates[-1]):
            if metric in owned.get(day, ()):
                final.setdefault(day, []).append(metric)
        if final:
            predicate = f"({predicate}) AND NOT ({slices_predicate(final)})"
        final_detail = [str(day) for day, metrics in final.items() if DETAIL_FINAL_WITH in metrics]
        if final_detail:
            detail_predicate = f"({detail_predicate}) AND NOT {sql_in('stat_date', final_detail)}"
    if held:
        kept = " OR ".join(f"(stat_date = '{day}' AND shop_id = {sql_literal(shop)})" for day, shop in held)
        predicate = f"({predicate}) AND NOT ({kept})"
        detail_predicate = f"({detail_predicate}) AND NOT ({kept})"
    for table in PUBLISHED_TABLES:
        if table is SESSION_DETAIL_DAILY and not detail_dates:
            continue
        path = table.path(settings)
        table.ensure(spark, settings)
        where = detail_predicate if table is SESSION_DETAIL_DAILY else predicate
        rows = spark.read.format("delta").load(staging_path(settings, table.name, run_id)).where(F.expr(where))
        replace_where(rows.select(*table.schema.fieldNames()), path, where, list(table.partition_by), run_id)
        written[table.name] = spark.read.format("delta").load(path).where(where).count()
    record_commits(spark, settings, run_id, "publish", [BY_NAME[name] for name in written])
    if settings.staging_keep_days == 0:
        drop_run_staging(spark, settings, run_id)
    return written
