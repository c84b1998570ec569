"""Publish a run's rows, once the gold gate has passed: replace exactly its slice of gold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.chunk import chunk_tables, day_rows
from csmetrics.commits import newest_commit, record_commits
from csmetrics.compute import Persisted, computed_tables
from csmetrics.config import Settings
from csmetrics.delta_io import replace_where, sql_in, sql_literal
from csmetrics.finality import settle, slices_left_alone
from csmetrics.metrics.session_detail import FINAL_WITH as DETAIL_FINAL_WITH
from csmetrics.plan import RunPlan, any_of, slices_predicate
from csmetrics.quality.gate import QualityGateError
from csmetrics.quality.gold_gate import GoldGateReport, held_back, validate_gold
from csmetrics.tables import BY_METRIC, BY_NAME, PUBLISHED_TABLES, SESSION_DETAIL_DAILY, drop_run_staging, drop_stale_staging, read_staging


def gold_path(settings: Settings, table: str) -> str:
    return BY_NAME[table].path(settings)


def publish_plan(
    spark: SparkSession,
    settings: Settings,
    plan: RunPlan,
    run_id: str,
    progress=lambda message: None,
    part_run_id: Callable[[RunPlan], str] | None = None,
) -> tuple[GoldGateReport, dict[str, int]] | None:
    """The slice transaction of one plan in this application: compute its rows once
    (materialized; the inputs behind them are released then), run the gold gate on them and
    publish them. Nothing is staged unless the gate stops the run (the rows are then kept for
    inspection, csmetrics.quality.gold_gate).
    Daily runs, restatements, releases and backfill chunks and days all publish through here.

    `part_run_id` (a backfill chunk, whose parts are its days): when the chunk's gate holds
    back any shop-day or stops, nothing is published together. Each day's rows, already
    computed, are then gated and published on their own under `part_run_id(day)`, so that a
    hold withholds only that day's slices, within that day's allowance, as in the daily runs
    (but the backfill's end, which its caller then runs as its daily run); the return value is
    then None."""
    drop_stale_staging(spark, settings)
    inputs, rows = Persisted(), Persisted()
    try:
        # A chunk of backfill days computes every day as of its own cutoff in one pass
        # (csmetrics.chunk), and gates and publishes their disjoint slices together.
        compute = chunk_tables if plan.parts else computed_tables
        try:
            tables = {name: rows.materialize(frame) for name, frame in compute(spark, settings, plan, run_id, inputs).items()}
        finally:
            inputs.release()
        try:
            report = validate_gold(spark, settings, plan, run_id, tables)
        except QualityGateError:
            if part_run_id is None:
                raise
            report = None
        if part_run_id is not None and (report is None or report.held_back):
            progress("gold gate: the chunk held back shop-days or stopped; gating and publishing its days one by one")
            for part in plan.parts:
                if part.slices is None:
                    # The backfill's end is left to its own daily run, which comes next
                    # (csmetrics.backfill.run_chunk): it retries what the days before it held back.
                    continue
                own_id = part_run_id(part)
                own = {name: frame.withColumn("run_id", F.lit(own_id)) for name, frame in day_rows(tables, part).items()}
                own_report = validate_gold(spark, settings, part, own_id, own)
                progress(f"gold gate, {part.run_date}: " + own_report.summary())
                publish(spark, settings, part, own_id, own, own_report.held_back)
            return None
        # Said before publishing: operators (and the crash test) read it as the step boundary.
        progress("gold gate: " + report.summary())
        return report, publish(spark, settings, plan, run_id, tables, report.held_back)
    finally:
        rows.release()


def publish(
    spark: SparkSession,
    settings: Settings,
    plan: RunPlan,
    run_id: str,
    tables: dict[str, DataFrame] | None = None,
    held_rows: list[tuple] | None = None,
) -> dict[str, int]:
    """Replace, per gold table and in one Delta commit each, exactly the (date, metric) slice
    the run owns and the shop-days it retries, except the shop-days the gold gate held back
    and the slices gold keeps (`slices_left_alone`: final ones, and provisional ones a run
    with a later cutoff wrote): their rows stay as they were. The rows are `tables`, or what
    the run staged; the held-back shop-days are `held_rows` (the gate's report, in the same
    application), or what the gate recorded. Then record the run's commits with how far it
    read, what it left unfinished and what it finalised (csmetrics.finality)."""
    tables = tables if tables is not None else read_staging(spark, settings, run_id)
    written, versions = {}, {}
    held_rows = held_rows if held_rows is not None else held_back(spark, settings, run_id)
    held = [(day, shop) for day, shop, _ in held_rows]
    final_before, seen_later = slices_left_alone(spark, settings, plan)
    predicate = plan.replace_predicate()
    # The session detail: whole dates, those of the conversation metrics the plan owns.
    detail_dates = plan.dates_for("conversation")
    detail_predicate = sql_in("stat_date", [str(day) for day in detail_dates]) if detail_dates else "false"
    left_alone = seen_later if plan.restate else final_before | seen_later
    if left_alone:
        # SPEC §5: a run never rewrites a row already final unless asked to restate. A re-run
        # of an earlier date would otherwise write its later dates back as provisional, and
        # the provisional ones of a later date's run from the fewer records its cutoff saw.
        kept: dict[date, list[str]] = {}
        for day, metric in sorted(left_alone):
            kept.setdefault(day, []).append(metric)
        predicate = f"({predicate}) AND NOT ({slices_predicate(kept)})"
        kept_detail = [str(day) for day, metrics in kept.items() if DETAIL_FINAL_WITH in metrics]
        if kept_detail:
            detail_predicate = f"({detail_predicate}) AND NOT {sql_in('stat_date', kept_detail)}"
    predicate = any_of(predicate, plan.retry_predicate())
    detail_predicate = any_of(detail_predicate, plan.retry_predicate(shop_days_of=DETAIL_FINAL_WITH))
    if held:
        kept = " OR ".join(f"(stat_date = '{day}' AND shop_id = {sql_literal(shop)})" for day, shop in held)
        predicate = f"({predicate}) AND NOT ({kept})"
        detail_predicate = f"({detail_predicate}) AND NOT ({kept})"
    for table in PUBLISHED_TABLES:
        where = detail_predicate if table is SESSION_DETAIL_DAILY else predicate
        if where == "false":
            continue
        path = table.path(settings)
        table.ensure(spark, settings)
        rows = tables[table.name].where(F.expr(where))
        if table.partition_by == BY_METRIC:
            # One file per (stat_date, metric) slice, not one per slice and task.
            rows = rows.repartition(*BY_METRIC)
        replace_where(rows.select(*table.schema.fieldNames()), path, where, list(table.partition_by), run_id)
        # The slice holds exactly the rows the commit wrote, which Delta's metrics count; its
        # output also holds the rows of other slices copied out of the files it rewrote. A
        # write that changes nothing (no rows, none to replace) makes no commit.
        commit = newest_commit(spark, path)
        versions[table.name] = commit.version
        written[table.name] = 0
        if commit.user_metadata == run_id:
            metrics = commit.operation_metrics
            written[table.name] = int(metrics["numOutputRows"]) - int(metrics.get("numCopiedRows") or 0)
    # A restatement records none: it read what had landed when its ingest ran, which may be
    # long before it publishes (its steps can run apart).
    record_commits(spark, settings, run_id, "publish", [BY_NAME[name] for name in written], versions, landed_by=plan.cutoff)
    settle(spark, settings, plan, run_id, held_rows, final_before)
    if settings.staging_keep_days == 0:
        drop_run_staging(spark, settings, run_id)
    return written
