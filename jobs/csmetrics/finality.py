"""What gold already holds as final, and the held-back shop-days that must still become final.

A run's plan depends on both (docs/maturity.md):
  final_slices   the (stat_date, metric) slices of a date range already final in gold
  slices_left_alone
                 the slices a run's publish leaves as they are: final ones, and provisional
                 ones a run with a later cutoff wrote
  plan_run       the plan of the run for a date: the slices it owns, those of them it keeps
                 final, and the held-back shop-days it tries again
  unfinished     held-back (stat_date, shop_id, metric) that are due to be final and are not
  settle         after a publish: record what the run held back of the slices it made
                 final, and what it finalised of earlier holds

quality/unfinished keeps one row per held-back (stat_date, shop_id, metric); a settled row
stays, with the run that settled it and how ("published", or "released" by an operator).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.config import Settings
from csmetrics.plan import RunPlan
from csmetrics.schemas.gold import UNFINISHED as UNFINISHED_SCHEMA
from csmetrics.tables import RUN_COMMITS, SHOP_METRICS_DAILY, UNFINISHED

PUBLISHED, RELEASED = "published", "released"


def final_slices(spark: SparkSession, settings: Settings, start: date, end: date) -> list[tuple[date, str]]:
    """The (stat_date, metric) slices of [start, end] already final in gold (a small list)."""
    if not SHOP_METRICS_DAILY.exists(spark, settings):
        return []
    rows = (
        SHOP_METRICS_DAILY.read(spark, settings)
        .where(F.col("stat_date").between(F.lit(start), F.lit(end)) & (F.col("maturity") == "final"))
        .select("stat_date", "metric")
        .distinct()
        .collect()
    )
    return sorted((row["stat_date"], row["metric"]) for row in rows)


def slices_left_alone(spark: SparkSession, settings: Settings, plan: RunPlan) -> tuple[set[tuple[date, str]], set[tuple[date, str]]]:
    """Of the (stat_date, metric) slices `plan` owns, those its publish leaves as gold holds
    them (docs/maturity.md, "What a run writes"): the final ones, and the ones the plan would
    write provisional that a run with a later cutoff wrote, from more landed records than
    this run reads. One read of gold's slice keys, beside the run record (quality/run_commits).
    A slice is left whole when any of its provisional rows is a later run's: a shop the later
    run held back keeps its older row.

    A restatement reads everything landed and rewrites its slices; those of them final stay
    final (`plan.kept_final`, returned as the final ones)."""
    owned = plan.metrics_by_date()
    if plan.restate or not owned:
        return set(plan.kept_final), set()
    if not SHOP_METRICS_DAILY.exists(spark, settings):
        return set(), set()
    # Gold is partitioned by (stat_date, metric): only the plan's own slices are read, a
    # sixth of the partitions of its dates (a daily run owns most metrics on two dates only).
    slices = (
        SHOP_METRICS_DAILY.read(spark, settings)
        .where(F.expr(plan.replace_predicate()))
        .select("stat_date", "metric", "maturity", "run_id")
    )
    later_runs = _runs_reading_past(spark, settings, plan.cutoff)
    if later_runs is None:
        slices = slices.withColumn("later", F.lit(False))
    else:
        slices = slices.join(F.broadcast(later_runs), "run_id", "left").withColumn("later", F.coalesce("later", F.lit(False)))
    final, seen_later = set(), set()
    for row in slices.select("stat_date", "metric", "maturity", "later").distinct().collect():
        key = (row.stat_date, row.metric)
        if row.metric not in owned.get(row.stat_date, ()):
            continue
        if row.maturity == "final":
            final.add(key)
        elif row.later and not plan.is_final(*key):
            seen_later.add(key)
    return final, seen_later - final


def _runs_reading_past(spark: SparkSession, settings: Settings, cutoff: datetime) -> DataFrame | None:
    """(run_id, later) of the publishes that read files landed after `cutoff`; None when no
    publish recorded how far it read (a warehouse of an older csmetrics). Restatements
    record no cutoff, and are not among them."""
    if not RUN_COMMITS.exists(spark, settings):
        return None
    commits = RUN_COMMITS.read(spark, settings)
    if "landed_by" not in commits.columns:
        return None
    return (
        commits.where((F.col("step") == "publish") & (F.col("landed_by") > F.lit(cutoff)))
        .select("run_id").distinct().withColumn("later", F.lit(True))
    )


def unfinished(spark: SparkSession, settings: Settings, stat_date: date | None = None, shop_id: str | None = None) -> list[Row]:
    """The held-back slices not settled yet (of one date and shop when given): few rows,
    sorted by stat_date, shop_id and metric."""
    if not UNFINISHED.exists(spark, settings):
        return []  # a list at once: the collect of an empty frame would still be a Spark job
    rows = _unsettled(spark, settings)
    if stat_date is not None:
        rows = rows.where(F.col("stat_date") == F.lit(stat_date))
    if shop_id is not None:
        rows = rows.where(F.col("shop_id") == shop_id)
    return sorted(rows.collect(), key=lambda r: (r.stat_date, r.shop_id, r.metric))


def unfinished_frame(spark: SparkSession, settings: Settings) -> DataFrame:
    """(stat_date, shop_id, metric) of the held-back slices not settled yet, as a frame."""
    return _unsettled(spark, settings).select("stat_date", "shop_id", "metric")


def _unsettled(spark: SparkSession, settings: Settings) -> DataFrame:
    return UNFINISHED.read_or_empty(spark, settings).where(F.col("settled_by").isNull())


def plan_run(spark: SparkSession, settings: Settings, run_date: date, restate: bool = False) -> RunPlan:
    """The plan of the run for `run_date`.

    Slices gold already holds as final stay final when the run recomputes them (a
    restatement; a normal run leaves them alone). Held-back shop-days whose slices are final
    by `run_date`, outside the run's own slices, are retried for their shops, from what had
    landed by the run's cutoff."""
    plan = RunPlan(run_date, restate=restate)
    owned = {(day, metric) for day, metrics in plan.metrics_by_date().items() for metric in metrics}
    final = owned & set(final_slices(spark, settings, plan.dates[0], plan.dates[-1]))
    # A slice the run owns is computed for every shop already: a held-back shop of it is
    # settled by the run's own publish, or (a normal run re-run over a final slice) by the
    # next run, which no longer owns it.
    retries = tuple(
        (r.stat_date, r.shop_id, r.metric)
        for r in unfinished(spark, settings)
        if r.metric in registry.BY_ID
        and r.stat_date <= run_date - timedelta(days=registry.BY_ID[r.metric].window_days)
        and (r.stat_date, r.metric) not in owned
    )
    return replace(plan, kept_final=frozenset(final), retries=retries)


def settle(
    spark: SparkSession,
    settings: Settings,
    plan: RunPlan,
    run_id: str,
    held: list[tuple],
    final_before: set[tuple[date, str]],
) -> None:
    """Record, after the run published, the slices it was due to make final for shop-days it
    held back (`held`: stat_date, shop_id, reason), and settle the earlier holds it has
    now published final: its retries, and any unfinished slice its own final slices covered.
    `final_before`: the slices gold held as final before the publish; a normal run does not
    rewrite them, and a restatement that holds one back leaves its final rows as they were,
    which owes nothing. Writes only when something changed."""
    reasons = {(day, shop): reason for day, shop, reason in held}
    now = datetime.now(UTC)
    open_rows = {(r.stat_date, r.shop_id, r.metric): r for r in unfinished(spark, settings)}
    changes = []
    for day, metrics in plan.final_by_date().items():
        for metric in metrics:
            if (day, metric) in final_before and not plan.restate:
                continue  # not rewritten: a normal run leaves final slices alone
            for (held_day, shop), reason in reasons.items():
                if held_day == day and (day, metric) not in final_before and (day, shop, metric) not in open_rows:
                    changes.append((day, shop, metric, run_id, reason, now, None, None, None))
            for (open_day, shop, open_metric), row in open_rows.items():
                if (open_day, open_metric) == (day, metric) and (day, shop) not in reasons:
                    changes.append((*_held(row), run_id, PUBLISHED, now))
    settlement = RELEASED if plan.accept else PUBLISHED
    for day, shop, metric in plan.retries:
        row = open_rows.get((day, shop, metric))
        if row is not None and (plan.accept or (day, shop) not in reasons):
            changes.append((*_held(row), run_id, settlement, now))
    if not changes:
        return
    source = spark.createDataFrame(changes, UNFINISHED_SCHEMA)
    on = " AND ".join(f"t.{key} = s.{key}" for key in UNFINISHED.keys)
    UNFINISHED.ensure(spark, settings).alias("t").merge(source.alias("s"), on).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()


def _held(row: Row) -> tuple:
    return row.stat_date, row.shop_id, row.metric, row.held_by, row.reason, row.held_at


def dates_settled_by(spark: SparkSession, settings: Settings, run_id: str) -> list[date]:
    """The stat_dates of held-back slices that `run_id` finalised (a small list)."""
    if not UNFINISHED.exists(spark, settings):
        return []
    rows = UNFINISHED.read(spark, settings).where(F.col("settled_by") == run_id).select("stat_date").distinct()
    return sorted(r.stat_date for r in rows.collect())
