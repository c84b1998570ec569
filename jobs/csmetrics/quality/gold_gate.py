"""The gold gate: validate a run's metric rows before anything is published."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import reduce
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.bronze import read_bronze
from csmetrics.config import Settings
from csmetrics.conformed import sessions_of_dates
from csmetrics.delta_io import replace_where, sql_literal
from csmetrics.metrics.family import TIMEZONE_MARGIN_DAYS
from csmetrics.plan import RunPlan
from csmetrics.quality import gold_views
from csmetrics.quality.checks import COVERAGE, PER_SHOP_DAY, PLATFORM_VOLUME, ROWS, SHOP_VOLUME
from csmetrics.quality.gate import (
    SAMPLE_SIZE,
    CheckResult,
    GxProject,
    QualityGateError,
    TableChecks,
    build_data_docs,
    data_docs_index,
    docs_line,
    held_back_shop_days,
    raise_on_critical,
    record_results,
    summary,
    validate_tables,
)
from csmetrics.schemas.gold import HELD_BACK as HELD_BACK_SCHEMA
from csmetrics.tables import HELD_BACK, PUBLISHED_TABLES, SHOP_METRICS_DAILY, read_staging, staging_path, write_staging

# Up to this many shop-days may always be held back, whatever their share.
MIN_HELD_BACK_SHOP_DAYS = 10

WHAT_TO_DO = (
    "The rows stay in the staging table {staging} for inspection. Fix the cause (input data or job), "
    "then re-run this date; Data Docs at {docs} show the failed checks with their failing keys."
)


@dataclass
class GoldGateReport:
    results: list[CheckResult]
    # (stat_date, shop_id, reason) of the shop-days held back from publication.
    held_back: list[tuple] = field(default_factory=list)
    docs: Path | None = None
    run_id: str | None = None

    def summary(self) -> str:
        text = summary(self.results, self.docs, self.run_id)
        if self.held_back:
            text += f"\n{len(self.held_back)} shop-day(s) held back (their published rows stay as they were; quality/{HELD_BACK.name}):"
            text += "".join(f"\n  - {day} {shop}: {reason}" for day, shop, reason in self.held_back[:SAMPLE_SIZE])
            if "Data Docs: " not in text:
                text += docs_line(self.docs, self.run_id)
        return text


def validate_gold(
    spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str, tables: dict[str, DataFrame] | None = None
) -> GoldGateReport:
    """Run each table's suite on the run's rows (`tables`, or what the run staged) and keep
    every result. A table-level critical failure stops the run; row-level ones hold back the
    failing shop-days (both grains), which are recorded with their reason, and the other
    shops publish. When the gate stops the run, rows it had in memory are staged first, so
    that they can be inspected."""
    in_memory = tables is not None
    tables = tables if in_memory else read_staging(spark, settings, run_id)
    project = GxProject(settings)
    checked = []
    for table in (t.name for t in PUBLISHED_TABLES):
        suite = importlib.import_module(f"csmetrics.expectations.{table}")
        frames = {ROWS: tables[table]}
        if table == SHOP_METRICS_DAILY.name:
            frames |= _shop_views(spark, settings, plan, tables[table])
        checks = suite.expectations(plan.every_date, settings.volume_anomaly_factor, settings.volume_collapse_factor)
        checked.append(TableChecks(f"gold/{table}", frames, checks, suite.KEYS))
    results = validate_tables(project, checked, run_id)
    held = []
    for table in checked:
        held_frame = held_back_shop_days(table.frames, [r for r in results if r.table == table.table])
        if held_frame is not None:
            held.append(held_frame)
    record_results(spark, settings, run_id, results)
    build_data_docs(project)
    what_to_do = WHAT_TO_DO.format(staging=staging_path(settings, "<table>", run_id), docs=data_docs_index(settings))
    try:
        raise_on_critical(results, what_to_do)
        # Shop-days an operator released (csmetrics release) publish whatever their rows show.
        held_back = _hold_back(spark, settings, [] if plan.accept else held, tables[SHOP_METRICS_DAILY.name], run_id, what_to_do)
    except QualityGateError:
        if in_memory:
            write_staging(settings, tables, run_id)
        raise
    return GoldGateReport(results, held_back, data_docs_index(settings), run_id)


def _hold_back(
    spark: SparkSession, settings: Settings, held: list[DataFrame], shop_rows: DataFrame, run_id: str, what_to_do: str
) -> list[tuple]:
    """Record the held-back shop-days of the run (replacing an earlier attempt's); fail when
    so many are held back that the job, not the data, must be wrong."""
    path = HELD_BACK.path(settings)
    HELD_BACK.ensure(spark, settings)
    rows = []
    if held:
        union = held[0]
        for frame in held[1:]:
            union = union.unionByName(frame)
        union = union.groupBy("stat_date", "shop_id").agg(F.array_join(F.collect_set("reason"), "; ").alias("reason"))
        count = union.count()
        shop_days = shop_rows.select("stat_date", "shop_id").distinct().count()
        allowed = max(MIN_HELD_BACK_SHOP_DAYS, int(settings.max_held_back_share * shop_days))
        if count > allowed:
            raise QualityGateError(
                f"Quality gate failed; nothing was published and the gold tables are unchanged.\n"
                f"  - {count:,d} of {shop_days:,d} shop-days fail row-level checks (more than {allowed:,d}, "
                f"CSMETRICS_MAX_HELD_BACK_SHARE = {settings.max_held_back_share}): a fault of the job or of the "
                f"whole input, not of a few shops.\n{what_to_do}"
            )
        rows = sorted(tuple(r) for r in union.collect())
    # An earlier attempt of the run may have held back other shop-days: replace them. Most
    # runs hold back nothing, and had held back nothing: no commit then.
    if rows or held_back(spark, settings, run_id):
        now = datetime.now(UTC)
        frame = spark.createDataFrame([(run_id, day, shop, reason, now) for day, shop, reason in rows], HELD_BACK_SCHEMA)
        replace_where(frame, path, f"run_id = {sql_literal(run_id)}", [], run_id)
    return rows


def held_back(spark: SparkSession, settings: Settings, run_id: str) -> list[tuple]:
    """(stat_date, shop_id, reason) the gold gate held back for `run_id` (a small list)."""
    if not HELD_BACK.exists(spark, settings):
        return []  # a list at once: the collect of an empty frame would still be a Spark job
    rows = HELD_BACK.read(spark, settings).where(F.col("run_id") == run_id).select("stat_date", "shop_id", "reason").collect()
    return sorted(tuple(r) for r in rows)


def _shop_views(spark: SparkSession, settings: Settings, plan: RunPlan, rows: DataFrame) -> dict[str, DataFrame]:
    views = {PER_SHOP_DAY: gold_views.per_shop_day(rows)}
    dates = plan.dates_for("conversation")
    if not dates:
        return views
    # Coverage and volume are about the run's own dates, every shop: retried shop-days of
    # earlier dates (a few shops) say nothing about them.
    rows = rows.where(F.col("stat_date").isin(dates))
    views[COVERAGE] = gold_views.conversation_coverage(rows, sessions_seen(spark, settings, plan))
    history = _published_volume(spark, settings, dates)
    views[SHOP_VOLUME] = gold_views.shop_volume(rows, history, dates)
    views[PLATFORM_VOLUME] = gold_views.platform_volume(rows, history, dates)
    return views


def sessions_seen(spark: SparkSession, settings: Settings, plan: RunPlan) -> DataFrame:
    """The sessions of the plan's conversation dates as its compute saw them: as of the
    plan's cutoff, or of each backfill day's own in a chunk (RunPlan.parts)."""
    seen, margin = [], timedelta(days=TIMEZONE_MARGIN_DAYS)
    for part in plan.parts or (plan,):
        dates = part.dates_for("conversation")
        if not dates:
            continue
        sessions = read_bronze(spark, settings, "sessions", (dates[0] - margin, dates[-1] + margin), part.cutoff)
        seen.append(sessions_of_dates(sessions, read_bronze(spark, settings, "shops", cutoff=part.cutoff), dates))
    return reduce(DataFrame.unionByName, seen)


def _published_volume(spark: SparkSession, settings: Settings, dates) -> DataFrame:
    """Published consult_sessions rows of the week before the first date to the last."""
    first = dates[0] - timedelta(days=gold_views.TRAILING_DAYS)
    return (
        SHOP_METRICS_DAILY.read_or_empty(spark, settings)
        .where(F.col("stat_date").between(F.lit(first), F.lit(dates[-1])) & (F.col("metric") == gold_views.VOLUME_METRIC))
        .select("stat_date", "shop_id", "metric", "segment", "value")
    )
