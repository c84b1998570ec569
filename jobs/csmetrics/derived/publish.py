"""Recompute the derived tables for the dates a run published, from gold (I/O at the edges)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.bronze import read_bronze
from csmetrics.commits import newest_commit, record_commits
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
from csmetrics.plan import slices_predicate
from csmetrics.quality.derived_gate import DerivedGate
from csmetrics.tables import BY_NAME, SCENE_METRICS_DAILY, SHOP_METRICS_DAILY

LONGEST_WINDOW = max(m.window_days for m in registry.METRICS)


def week_starts(dates: list[date]) -> list[date]:
    return sorted({_week_of(d) for d in dates})


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def every_metric(dates) -> dict[date, list[str]]:
    """{stat_date: every metric id}: the slices of dates whose changed metrics are not known
    one by one (the held-back shop-days a run settled)."""
    return {day: [m.id for m in registry.METRICS] for day in dates}


def changed_slices(*parts: Mapping[date, Collection[str]]) -> dict[date, list[str]]:
    """The union of {stat_date: metric ids} maps."""
    union: dict[date, set[str]] = {}
    for part in parts:
        for day, metrics in part.items():
            union.setdefault(day, set()).update(metrics)
    return {day: sorted(metrics) for day, metrics in sorted(union.items())}


def dates_of(changed: Mapping[date, Collection[str]], metrics) -> list[date]:
    """The dates on which one of `metrics` changed."""
    wanted = set(metrics)
    return [day for day, changed_metrics in sorted(changed.items()) if wanted.intersection(changed_metrics)]


def derive(
    spark: SparkSession, settings: Settings, changed: Mapping[date, Collection[str]], run_id: str, as_of: date | None = None
) -> dict[str, int]:
    """The derived tables, for the (stat_date, metric) slices a run published: `changed` maps
    each stat_date to its metric ids; `as_of` is the date of that run (a backfill's end), by
    which every slice is final through as_of - its window.

    Weekly rollups and governance for the ISO weeks of the dates, monthly rollups for their
    months; benchmarks and leaderboards for the changed slices themselves; the experience
    score for the dates whose window holds a changed indicator, and alerts for the dates whose
    baseline holds a changed governed metric or score. A daily run's delayed dates change one
    or a few metrics, so most of them move no score and no alert. Each table is written by
    one MERGE that touches only changed rows. The experience score and the alerts pass the
    derived gate first (csmetrics.quality.derived_gate). Returns the rows each MERGE changed."""
    thresholds = parse_thresholds(settings.governance_thresholds) if settings.governance_thresholds else DEFAULT_THRESHOLDS
    dates = sorted(changed)
    changed_sql = slices_predicate(changed)
    weeks = week_starts(dates)
    months = sorted({_month_of(d) for d in dates})
    last_sunday, month_end = weeks[-1] + timedelta(days=6), _month_end(months[-1])
    daily = SHOP_METRICS_DAILY.read(spark, settings)
    indicators = experience.parse_indicators(settings.experience_indicators or experience.DEFAULT_INDICATORS)
    indicator_dates = dates_of(changed, [i.metric for i in indicators])
    scored = experience.score_dates(indicator_dates) if indicator_dates else []
    # A score that moved moves the alerts on it; a governed metric's, the alerts on that metric.
    alerted = sorted(set(dates_of(changed, [t.metric for t in thresholds])) | set(scored))
    # Finality of the periods' days shows in the rows up to the longest window after them.
    horizons = {
        "week": (weeks[0], last_sunday + timedelta(days=LONGEST_WINDOW)),
        "month": (months[0], month_end + timedelta(days=LONGEST_WINDOW)),
    }
    if scored:
        horizons["score"] = (scored[0], scored[-1])
    # The latest run gold shows: a re-run of an earlier date, or a restatement, must not
    # read slices as less final than the runs after it made them.
    as_of = _latest_run(daily, as_of)
    finality = _final_through(daily, horizons, as_of)
    # `dates` may have gaps (a settled held-back day weeks back): only their own weeks and
    # months are rolled up, as the MERGEs replace only those.
    # Every metric of each touched week and month: a period's row is final once its last day
    # is, which a metric without a row that day learns only from its later days' rows
    # (`latest_final_days`), slices that need not be this run's.
    week_days = daily.where(F.col("stat_date").between(F.lit(weeks[0]), F.lit(last_sunday)) & week_start(F.col("stat_date")).isin(weeks))
    month_days = daily.where(F.col("stat_date").between(F.lit(months[0]), F.lit(month_end)) & month_start(F.col("stat_date")).isin(months))
    shops = read_bronze(spark, settings, "shops")
    peers = supported(daily.where(F.col("stat_date").isin(dates) & F.expr(changed_sql)), shops, settings.min_support)
    scenes = SCENE_METRICS_DAILY.read(spark, settings) if SCENE_METRICS_DAILY.exists(spark, settings) else None
    # Held-back shop-days are few: read once for the weekly and the monthly rows.
    window_days = [scored[0] - timedelta(days=experience.WINDOW_DAYS - 1), scored[-1]] if scored else []
    unfinished = unfinished_frame(spark, settings).where(
        F.col("stat_date").between(F.lit(min(weeks[0], months[0], *window_days)), F.lit(max(last_sunday, month_end, *window_days)))
    ).persist()
    gate = DerivedGate(spark, settings, run_id, [t.metric for t in thresholds])
    try:
        # Each source is built when its MERGE's turn comes: governance judges the weekly rows
        # written before it (a read of them, not their rollup again).
        frames = {
            "shop_metrics_weekly": (lambda: weekly_rows(week_days, finality["week"], unfinished), weeks, None),
            "shop_metrics_monthly": (lambda: monthly_rows(month_days, finality["month"], unfinished), months, None),
            "governance_weekly": (lambda: governance_rows(_written_weeks(spark, settings, weeks), thresholds), weeks, None),
            "peer_benchmarks_daily": (lambda: peer_benchmarks(peers, settings.min_peers), dates, slices_predicate(changed, "t")),
        }
        if scored:
            frames["experience_score_daily"] = (lambda: experience.experience_scores(
                daily, shops, indicator_dates, indicators, _final_by_window(finality["score"]), unfinished,
                settings.min_support, settings.min_peers, as_of,
            ), scored, None)
        if alerted:
            # From the scores just written: the governed metrics and the score, on every date
            # whose baseline a changed day is part of.
            frames["metric_alerts_daily"] = (lambda: _alerts(spark, settings, daily, shops, alerted, thresholds), alerts.alert_dates(alerted), None)
        # The scores just written enter the leaderboard on every date whose score moved.
        frames["leaderboard_daily"] = (
            lambda: leaderboard(peers.unionByName(_written_scores(spark, settings, scored), allowMissingColumns=True) if scored else peers),
            sorted(set(dates) | set(scored)), _leaderboard_slice(changed, scored),
        )
        if scenes is not None:
            scene_peers = supported(scenes.where(F.col("stat_date").isin(dates) & F.expr(changed_sql)), shops, settings.min_support)
            frames["scene_benchmarks_daily"] = (
                lambda: peer_benchmarks(scene_peers, settings.min_peers, within=SCENE_COLUMNS), dates, slices_predicate(changed, "t"),
            )
        stamp = datetime.now(UTC)
        written, versions = {}, {}
        with commit_metadata(spark, run_id):
            for table, (rows, partitions, within) in frames.items():
                written[table], versions[table] = _checked_write(spark, settings, gate, table, rows(), partitions, run_id, stamp, within)
            # From the weekly and monthly rows just written.
            trends, within = _trends(spark, settings, daily, changed)
            written["shop_metric_trends"], versions["shop_metric_trends"] = _write(
                spark, settings, "shop_metric_trends", trends, GRAINS, run_id, stamp, within
            )
    finally:
        unfinished.unpersist()
    gate.record()
    record_commits(spark, settings, run_id, "derive", [BY_NAME[name] for name in written], known=versions)
    return written


GRAINS = ["day", "week", "month"]


def _latest_run(daily: DataFrame, as_of: date | None) -> date | None:
    """The date of the latest run whose slices gold holds: the later of `as_of` and gold's
    latest stat_date (the run for R writes R; a backfill writes its end). Only the partitions
    from `as_of` on are read: the cost does not grow with gold's history."""
    later = daily if as_of is None else daily.where(F.col("stat_date") >= F.lit(as_of))
    latest = later.agg(F.max("stat_date")).first()[0]
    return max((day for day in (as_of, latest) if day is not None), default=None)


def _final_through(daily: DataFrame, horizons: dict[str, tuple[date, date]], as_of: date | None = None) -> dict[str, dict[str, date]]:
    """{horizon: {metric: final through}}: one small aggregate, collected (a row per metric),
    floored by `as_of` (`floored_by_run`)."""
    latest = latest_final_days(daily, horizons).collect()
    return {name: floored_by_run({row.metric: row[name] for row in latest if row[name] is not None}, as_of) for name in horizons}


def floored_by_run(final_through: Mapping[str, date], as_of: date | None) -> dict[str, date]:
    """{metric: final through}, each metric at least through as_of - its window once the run
    for `as_of` has run (SPEC §4): rows alone cannot show it on days the metric has none (no
    ticket closed on a Sunday)."""
    floored = dict(final_through)
    if as_of is not None:
        for metric in registry.METRICS:
            floor = as_of - timedelta(days=metric.window_days)
            floored[metric.id] = max(floor, floored.get(metric.id, floor))
    return floored


def _final_by_window(final_through: Mapping[str, date]) -> dict[int, date]:
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
    scores = BY_NAME["experience_score_daily"].read(spark, settings)
    return alerts.metric_alerts(
        alerts.series(daily, scores, metrics, dates), shops, dates, [*metrics, experience.LEADERBOARD_METRIC],
        settings.min_support, settings.min_peers, settings.alert_z, settings.alert_critical_z,
    )


def _written_scores(spark: SparkSession, settings: Settings, days: list[date]) -> DataFrame:
    scores = BY_NAME["experience_score_daily"].read(spark, settings).where(F.col("stat_date").isin(days))
    return experience.leaderboard_rows(scores)


def _leaderboard_slice(changed: Mapping[date, Collection[str]], scored: list[date]) -> str:
    """The leaderboard rows a run rewrites: each changed metric on its own dates, and the
    score on the dates whose score moved (a date's score sums the 29 days before it)."""
    metrics = f"(t.metric <> '{experience.LEADERBOARD_METRIC}' AND ({slices_predicate(changed, 't')}))"
    if not scored:
        return metrics
    return f"(t.metric = '{experience.LEADERBOARD_METRIC}' AND {sql_in('t.stat_date', scored)}) OR {metrics}"


def _written_weeks(spark: SparkSession, settings: Settings, weeks: list[date]) -> DataFrame:
    return BY_NAME["shop_metrics_weekly"].read(spark, settings).where(F.col("week_start").isin(weeks))


def _week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month_of(day: date) -> date:
    return day.replace(day=1)


def _next_month(first: date) -> date:
    return _month_end(first) + timedelta(days=1)


def _month_start_before(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def period_slices(changed: Mapping[date, Collection[str]], period_of: Callable[[date], date]) -> dict[date, list[str]]:
    """{period start: the metrics that changed on one of its days}."""
    return changed_slices(*({period_of(day): metrics} for day, metrics in changed.items()))


def _shifted(slices: Mapping[date, Collection[str]], shift: Callable[[date], date]) -> dict[date, list[str]]:
    return {shift(period): sorted(metrics) for period, metrics in slices.items()}


def _slices_column(slices: Mapping[date, Collection[str]], period: Column) -> Column:
    """Rows of these (period, metric) slices, `period` the rows' period start."""
    return reduce(operator.or_, [(period == F.lit(start)) & F.col("metric").isin(sorted(metrics)) for start, metrics in slices.items()])


# Each trend grain: its gold rows' period column, the period a day falls in, the period after
# a period and the one before it.
TREND_GRAINS = {
    "day": ("stat_date", lambda day: day, lambda day: day + timedelta(days=1), lambda day: day - timedelta(days=1)),
    "week": ("week_start", _week_of, lambda week: week + timedelta(days=7), lambda week: week - timedelta(days=7)),
    "month": ("month_start", _month_of, _next_month, _month_start_before),
}


def _trends(spark: SparkSession, settings: Settings, daily: DataFrame, changed: Mapping[date, Collection[str]]) -> tuple[DataFrame, str]:
    """The trend rows a run can move, and the MERGE slice that holds them: for each grain,
    the (period, metric) of a changed day's period, and of the period after it (its change is
    against them). Each is computed from its own and its previous period's rows. A day moves
    with its own slice only; weeks and months are rolled up again for every metric (`derive`),
    so their trends are too."""
    tables = {"day": None, "week": "shop_metrics_weekly", "month": "shop_metrics_monthly"}
    inputs, spans, moved = {}, {}, {}
    for grain, (column, period_of, after, before) in TREND_GRAINS.items():
        own = period_slices(changed if grain == "day" else every_metric(changed), period_of)
        moved[grain] = changed_slices(own, _shifted(own, after))
        needed = changed_slices(moved[grain], _shifted(moved[grain], before))
        rows = daily if tables[grain] is None else BY_NAME[tables[grain]].read(spark, settings)
        inputs[grain] = rows.where(F.col(column).between(F.lit(min(needed)), F.lit(max(needed))) & _slices_column(needed, F.col(column)))
        spans[grain] = (min(moved[grain]), max(moved[grain]))
    trends = periods_with_change(inputs["day"], inputs["week"], inputs["month"], spans["day"], spans["week"], spans["month"])
    in_moved = reduce(operator.or_, [(F.col("grain") == grain) & _slices_column(slices, F.col("period_start")) for grain, slices in moved.items()])
    # The periods alone first: a predicate on partition columns only, which prunes the MERGE's read.
    periods_sql = " OR ".join(f"(t.grain = '{grain}' AND {sql_in('t.period_start', sorted(slices))})" for grain, slices in moved.items())
    slices_sql = " OR ".join(f"(t.grain = '{grain}' AND ({slices_predicate(slices, 't', 'period_start')}))" for grain, slices in moved.items())
    return trends.where(in_moved), f"({periods_sql}) AND ({slices_sql})"


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


def _write(
    spark, settings, table: str, rows: DataFrame, partitions, run_id: str, stamp: datetime, slice_sql: str | None = None
) -> tuple[int, int]:
    """The rows the MERGE changed, and the version of the table that holds them: its newest,
    which is the MERGE's commit, or the version `merge_slice` found when nothing changed (it
    runs no MERGE then; a re-run under the same run id must not record its earlier commit,
    which later runs may have changed since)."""
    declared = BY_NAME[table]
    partition = declared.partition_by[0]  # the trends' second, period_start, is narrowed by their slice
    target = declared.ensure(spark, settings)
    stamped = rows.withColumn("run_id", F.lit(run_id)).withColumn("computed_at", F.lit(stamp).cast("timestamp"))
    changed = merge_slice(
        target, stamped.select(*declared.schema.fieldNames()), list(declared.keys), partition, partitions, slice_predicate=slice_sql
    )
    return changed, newest_commit(spark, declared.path(settings)).version
