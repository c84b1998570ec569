"""Recompute the derived tables for the dates a run published, from gold (I/O at the edges)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.bronze import read_bronze
from csmetrics.commits import record_commits
from csmetrics.config import Settings
from csmetrics.delta_io import commit_metadata, merge_slice, sql_in
from csmetrics.derived import alerts, experience
from csmetrics.derived.benchmarks import leaderboard, peer_benchmarks, supported
from csmetrics.derived.trends import periods_with_change
from csmetrics.derived.weekly import (
    DEFAULT_THRESHOLDS,
    governance_rows,
    latest_final_days,
    month_start,
    monthly_rows,
    parse_thresholds,
    week_start,
    weekly_rows,
)
from csmetrics.finality import unfinished_frame
from csmetrics.metrics.scenes import SCENE_COLUMNS
from csmetrics.quality.derived_gate import DerivedGate
from csmetrics.tables import BY_NAME, SCENE_METRICS_DAILY, SHOP_METRICS_DAILY

LONGEST_WINDOW = max(m.window_days for m in registry.METRICS)


def week_starts(dates: list[date]) -> list[date]:
    return sorted({d - timedelta(days=d.weekday()) for d in dates})


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def derive(spark: SparkSession, settings: Settings, dates: list[date], run_id: str) -> dict[str, int]:
    """Weekly rollups and governance for the ISO weeks of `dates`, monthly rollups for their
    months, benchmarks and leaderboards for `dates` themselves; each written by one MERGE that touches only changed rows.
    The experience score and the alerts pass the derived gate first (csmetrics.quality.derived_gate).
    Returns the rows each MERGE changed."""
    thresholds = parse_thresholds(settings.governance_thresholds) if settings.governance_thresholds else DEFAULT_THRESHOLDS
    weeks = week_starts(dates)
    months = sorted({d.replace(day=1) for d in dates})
    last_sunday, month_end = weeks[-1] + timedelta(days=6), _month_end(months[-1])
    daily = spark.read.format("delta").load(SHOP_METRICS_DAILY.path(settings))
    # Finality of the periods' days shows in the rows up to the longest window after them.
    scored = experience.score_dates(dates)
    finality = _final_through(daily, {
        "week": (weeks[0], last_sunday + timedelta(days=LONGEST_WINDOW)),
        "month": (months[0], month_end + timedelta(days=LONGEST_WINDOW)),
        "score": (scored[0], scored[-1]),
    })
    # `dates` may have gaps (a settled held-back day weeks back): only their own weeks and
    # months are rolled up, as the MERGEs replace only those.
    week_days = daily.where(F.col("stat_date").between(F.lit(weeks[0]), F.lit(last_sunday)) & week_start(F.col("stat_date")).isin(weeks))
    month_days = daily.where(F.col("stat_date").between(F.lit(months[0]), F.lit(month_end)) & month_start(F.col("stat_date")).isin(months))
    shops = read_bronze(spark, settings, "shops")
    peers = supported(daily.where(F.col("stat_date").isin(dates)), shops, settings.min_support)
    scenes = spark.read.format("delta").load(SCENE_METRICS_DAILY.path(settings)) if SCENE_METRICS_DAILY.exists(spark, settings) else None
    # Held-back shop-days are few: read once for the weekly and the monthly rows.
    unfinished = unfinished_frame(spark, settings).where(
        F.col("stat_date").between(
            F.lit(min(weeks[0], months[0], scored[0] - timedelta(days=experience.WINDOW_DAYS - 1))),
            F.lit(max(last_sunday, month_end, scored[-1])),
        )
    ).persist()
    indicators = experience.parse_indicators(settings.experience_indicators or experience.DEFAULT_INDICATORS)
    gate = DerivedGate(spark, settings, run_id, [t.metric for t in thresholds])
    try:
        # Each source is built when its MERGE's turn comes: governance judges the weekly rows
        # written before it (a read of them, not their rollup again).
        frames = {
            "shop_metrics_weekly": (lambda: weekly_rows(week_days, finality["week"], unfinished), weeks),
            "shop_metrics_monthly": (lambda: monthly_rows(month_days, finality["month"], unfinished), months),
            "governance_weekly": (lambda: governance_rows(_written_weeks(spark, settings, weeks), thresholds), weeks),
            "peer_benchmarks_daily": (lambda: peer_benchmarks(peers, settings.min_peers), dates),
            "experience_score_daily": (lambda: experience.experience_scores(
                daily, shops, dates, indicators, _final_by_window(finality["score"]), unfinished, settings.min_support, settings.min_peers,
            ), scored),
            # From the scores just written: the governed metrics and the score, on every date
            # whose baseline a published date is part of.
            "metric_alerts_daily": (lambda: _alerts(spark, settings, daily, shops, dates, thresholds), alerts.alert_dates(dates)),
            # The scores just written enter the leaderboard on every date whose score moved.
            "leaderboard_daily": (lambda: leaderboard(peers.unionByName(_written_scores(spark, settings, scored), allowMissingColumns=True)),
                                  sorted(set(dates) | set(scored))),
        }
        if scenes is not None:
            scene_peers = supported(scenes.where(F.col("stat_date").isin(dates)), shops, settings.min_support)
            frames["scene_benchmarks_daily"] = (lambda: peer_benchmarks(scene_peers, settings.min_peers, within=SCENE_COLUMNS), dates)
        stamp = datetime.now(UTC)
        written = {}
        with commit_metadata(spark, run_id):
            for table, (rows, partitions) in frames.items():
                within = _leaderboard_slice(dates) if table == "leaderboard_daily" else None
                written[table] = _checked_write(spark, settings, gate, table, rows(), partitions, run_id, stamp, within)
            # From the weekly and monthly rows just written.
            trends, spans = _trends(spark, settings, daily, dates, weeks, months)
            written["shop_metric_trends"] = _write(spark, settings, "shop_metric_trends", trends, GRAINS, run_id, stamp, spans)
    finally:
        unfinished.unpersist()
    gate.record()
    record_commits(spark, settings, run_id, "derive", [BY_NAME[name] for name in written])
    return written


GRAINS = ["day", "week", "month"]


def _final_through(daily: DataFrame, horizons: dict[str, tuple[date, date]]) -> dict[str, dict[str, date]]:
    """{horizon: {metric: final through}}: one small aggregate, collected (a row per metric)."""
    latest = latest_final_days(daily, horizons).collect()
    return {name: {row.metric: row[name] for row in latest if row[name] is not None} for name in horizons}


def _final_by_window(final_through: dict[str, date]) -> dict[int, date]:
    """{window_days: the latest final day of the metrics of that window}: a window's slices
    become final together, so a metric without rows in the horizon (no shop had a refund that
    month) is final as far as the others of its window."""
    by_window: dict[int, date] = {}
    for metric, day in final_through.items():
        window = registry.BY_ID[metric].window_days
        by_window[window] = max(day, by_window.get(window, day))
    return by_window


def _alerts(spark: SparkSession, settings: Settings, daily: DataFrame, shops: DataFrame, dates: list[date], thresholds) -> DataFrame:
    metrics = [t.metric for t in thresholds]
    scores = spark.read.format("delta").load(BY_NAME["experience_score_daily"].path(settings))
    return alerts.metric_alerts(
        alerts.series(daily, scores, metrics, dates), shops, dates, [*metrics, experience.LEADERBOARD_METRIC],
        settings.min_support, settings.min_peers, settings.alert_z, settings.alert_critical_z,
    )


def _written_scores(spark: SparkSession, settings: Settings, days: list[date]) -> DataFrame:
    scores = spark.read.format("delta").load(BY_NAME["experience_score_daily"].path(settings)).where(F.col("stat_date").isin(days))
    return experience.leaderboard_rows(scores)


def _leaderboard_slice(dates: list[date]) -> str:
    """The leaderboard rows a run rewrites: every metric on its own dates, the score on the
    dates after them too (a date's score sums the 29 days before it)."""
    return f"t.metric = '{experience.LEADERBOARD_METRIC}' OR " + sql_in("t.stat_date", dates)


def _written_weeks(spark: SparkSession, settings: Settings, weeks: list[date]) -> DataFrame:
    return spark.read.format("delta").load(BY_NAME["shop_metrics_weekly"].path(settings)).where(F.col("week_start").isin(weeks))


def _next_month(first: date) -> date:
    return _month_end(first) + timedelta(days=1)


def _trends(spark: SparkSession, settings: Settings, daily: DataFrame, dates, weeks, months) -> tuple[DataFrame, str]:
    """The periods whose value or whose change a run can move: its days, weeks and months and
    the period after each (its change is against them); and the MERGE slice that holds them."""
    spans = {
        "day": (dates[0], dates[-1] + timedelta(days=1)),
        "week": (weeks[0], weeks[-1] + timedelta(days=7)),
        "month": (months[0], _next_month(months[-1])),
    }
    befores = {"day": dates[0] - timedelta(days=1), "week": weeks[0] - timedelta(days=7), "month": _month_start_before(months[0])}
    inputs = {}
    for grain, column, table in (("day", "stat_date", SHOP_METRICS_DAILY.name), ("week", "week_start", "shop_metrics_weekly"),
                                 ("month", "month_start", "shop_metrics_monthly")):
        rows = daily if grain == "day" else spark.read.format("delta").load(BY_NAME[table].path(settings))
        inputs[grain] = rows.where(F.col(column).between(F.lit(befores[grain]), F.lit(spans[grain][1])))
    trends = periods_with_change(inputs["day"], inputs["week"], inputs["month"], spans["day"], spans["week"], spans["month"])
    slice_sql = " OR ".join(
        f"(t.grain = '{grain}' AND t.period_start BETWEEN DATE'{first}' AND DATE'{last}')" for grain, (first, last) in spans.items()
    )
    return trends, slice_sql


def _month_start_before(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def _checked_write(spark, settings, gate: DerivedGate, table: str, rows: DataFrame, partitions, run_id: str, stamp: datetime, slice_sql):
    """`_write`, after the derived gate passed `rows` where it checks `table`."""
    if not gate.gates(table):
        return _write(spark, settings, table, rows, partitions, run_id, stamp, slice_sql)
    # Computed once, for the gate and the MERGE, and released before the next table's.
    rows = rows.persist()
    try:
        gate.check(table, rows, partitions)
        return _write(spark, settings, table, rows, partitions, run_id, stamp, slice_sql)
    finally:
        rows.unpersist()


def _write(spark, settings, table: str, rows: DataFrame, partitions, run_id: str, stamp: datetime, slice_sql: str | None = None) -> int:
    declared = BY_NAME[table]
    (partition,) = declared.partition_by
    target = declared.ensure(spark, settings)
    stamped = rows.withColumn("run_id", F.lit(run_id)).withColumn("computed_at", F.lit(stamp).cast("timestamp"))
    return merge_slice(
        target, stamped.select(*declared.schema.fieldNames()), list(declared.keys), partition, partitions, slice_predicate=slice_sql
    )
