"""Alerts a shop would act on (docs/derived.md, "Alerts"): a day's value worse than both the
shop's own recent days and its peers.

The shop's baseline is the median of its previous 28 days with support, and the day's
distance from it a robust z-score: (value - median) / (1.4826 x MAD), the median absolute
deviation scaled to a normal's standard deviation (Iglewicz and Hoaglin's modified z-score),
so one earlier bad day does not widen the band as a standard deviation would.
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.derived.experience import LEADERBOARD_METRIC, SCORE

HISTORY_DAYS = 28
# Fewer days with support than this and the baseline says too little: no alert.
MIN_HISTORY_DAYS = 14
# The MAD of a constant series is 0; the band never gets narrower than this share of the median.
MIN_SCALE_SHARE = 0.01
MAD_TO_SIGMA = 1.4826
# Nor narrower than a move too small to act on, where the median is 0 (a shop that never
# queues): a second, half a percentage point, half a score point.
SMALLEST_MOVE = {"seconds": 1.0, "rate": 0.005, "score": 0.5}
# The peer average (SPEC §5): the 60th percentile where higher is better, the 40th where lower is.
PEER_AVERAGE = {registry.HIGHER: 0.6, registry.LOWER: 0.4}
WARN, CRITICAL = "warn", "critical"


def alert_dates(dates: list[date]) -> list[date]:
    """The dates whose alerts a change of `dates`' rows can move: each date and the 28 after
    it (their baselines hold it)."""
    return sorted({day + timedelta(days=k) for day in dates for k in range(HISTORY_DAYS + 1)})


def series(daily: DataFrame, scores: DataFrame | None, metrics: list[str], dates: list[date]) -> DataFrame:
    """The values alerts judge: stat_date, shop_id, metric, segment, value, support, maturity,
    numerator, denominator, over the dates of `alert_dates(dates)` and the 28 days before.
    The experience score is the metric `experience_score`, its support the indicators placed."""
    wanted = alert_dates(dates)
    first, last = wanted[0] - timedelta(days=HISTORY_DAYS), wanted[-1]
    in_range = F.col("stat_date").between(F.lit(first), F.lit(last))
    frames = [
        daily.where(in_range & F.col("metric").isin(metrics)).select(
            "stat_date", "shop_id", "metric", "segment", "value", F.coalesce("denominator", "numerator").alias("support"),
            "maturity", "numerator", "denominator",
        )
    ]
    if scores is not None:
        frames.append(
            scores.where(in_range & (F.col("indicator") == SCORE) & F.col("value").isNotNull()).select(
                "stat_date", "shop_id", F.lit(LEADERBOARD_METRIC).alias("metric"), F.lit("all").alias("segment"), "value",
                F.col("scored_indicators").cast("double").alias("support"), "maturity",
                F.lit(None).cast("double").alias("numerator"), F.lit(None).cast("double").alias("denominator"),
            )
        )
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def _lower_is_better(metrics: list[str]) -> Column:
    return F.col("metric").isin([m for m in metrics if m in registry.BY_ID and registry.BY_ID[m].direction == registry.LOWER])


def metric_alerts(
    values: DataFrame,
    shops: DataFrame,
    dates: list[date],
    metrics: list[str],
    min_support: int,
    min_peers: int,
    z_threshold: float,
    critical_z: float,
) -> DataFrame:
    """One row per (stat_date, shop_id, metric, segment) of `alert_dates(dates)` whose value
    is worse than both its baseline (a robust z-score beyond `z_threshold` in the bad
    direction) and its peers' average. `values`: `series(...)`; `shops`: shop_id, platform,
    category, tier. The score's support is its placed indicators, so `min_support` does not
    apply to it."""
    wanted = alert_dates(dates)
    support_ok = (F.col("metric") == LEADERBOARD_METRIC) | (F.col("support") >= min_support)
    supported = values.where(support_ok & F.col("value").isNotNull())
    days = supported.where(F.col("stat_date").isin(wanted)).alias("d")
    history = supported.select(
        F.col("stat_date").alias("h_date"), "shop_id", "metric", "segment", F.col("value").alias("h_value"),
        F.col("maturity").alias("h_maturity"),
    ).alias("h")
    joined = days.join(
        history,
        (F.col("d.shop_id") == F.col("h.shop_id")) & (F.col("d.metric") == F.col("h.metric")) & (F.col("d.segment") == F.col("h.segment"))
        & F.col("h.h_date").between(F.date_sub(F.col("d.stat_date"), HISTORY_DAYS), F.date_sub(F.col("d.stat_date"), 1)),
    )
    key = ["stat_date", "shop_id", "metric", "segment"]
    baselines = joined.groupBy(*[F.col(f"d.{k}").alias(k) for k in key]).agg(
        F.median("h_value").alias("baseline"), F.count("*").alias("history_days"),
        F.max("h_maturity").alias("_history_maturity"),  # "provisional" sorts after "final"
    )
    # The MAD: the median of the absolute deviations from the baseline, a second aggregate
    # over the same pairs once the baseline is known.
    pairs = joined.select(*[F.col(f"d.{k}").alias(k) for k in key], "h_value")
    deviations = pairs.join(baselines.select(*key, "baseline"), key).groupBy(*key).agg(
        F.median(F.abs(F.col("h_value") - F.col("baseline"))).alias("mad")
    )
    judged = days.select(*key, "value", "maturity", "numerator", "denominator").join(baselines, key).join(deviations, key)
    lower = _lower_is_better(metrics)
    scale = F.greatest(F.lit(MAD_TO_SIGMA) * F.col("mad"), F.lit(MIN_SCALE_SHARE) * F.abs(F.col("baseline")), _smallest_move())
    z = (F.col("value") - F.col("baseline")) / scale
    judged = judged.withColumn("z", z).withColumn("_badness", F.when(lower, F.col("z")).otherwise(-F.col("z")))
    peers = _peer_standing(supported.where(F.col("stat_date").isin(wanted)), shops, lower, min_peers)
    judged = judged.join(peers, key)
    worse_than_peers = F.when(lower, F.col("value") > F.col("peer_average")).otherwise(F.col("value") < F.col("peer_average"))
    alerts = judged.where((F.col("history_days") >= MIN_HISTORY_DAYS) & (F.col("_badness") > z_threshold) & worse_than_peers)
    previous = supported.select(
        F.date_add("stat_date", 1).alias("stat_date"), "shop_id", "metric", "segment",
        F.col("value").alias("_previous"), F.col("numerator").alias("_previous_numerator"), F.col("denominator").alias("_previous_denominator"),
    )
    alerts = alerts.join(previous, key, "left")
    return alerts.select(
        *key,
        "value",
        "baseline",
        F.col("z").alias("z"),
        F.col("history_days").cast("int").alias("history_days"),
        "peer_average",
        "peer_percentile",
        "peer_shops",
        F.when(F.col("_badness") >= critical_z, CRITICAL).otherwise(WARN).alias("severity"),
        _first_explain_line(lower).alias("explanation"),
        # The day's value, its baseline's days and its peers' values of the day: an alert
        # is final once none of them can change.
        F.when((F.col("maturity") == "final") & (F.col("_history_maturity") == "final") & F.col("_peers_final"), "final")
        .otherwise("provisional").alias("maturity"),
    )


def _smallest_move() -> Column:
    metric = F.col("metric")
    return (
        F.when(metric == LEADERBOARD_METRIC, SMALLEST_MOVE["score"])
        .when(metric.endswith("_seconds"), SMALLEST_MOVE["seconds"])
        .otherwise(SMALLEST_MOVE["rate"])
    )


def _peer_standing(day_values: DataFrame, shops: DataFrame, lower: Column, min_peers: int) -> DataFrame:
    """Per shop-day value: its peers' average (P60 / P40) and its percentile among them (the
    share of peers not better than it, as the score's points / 100), for groups of at least
    `min_peers` supported shops: the peer benchmarks' groups (platform, category, tier) for a
    metric, the score's (platform, category) for the score."""
    with_group = day_values.join(F.broadcast(shops.select("shop_id", "platform", "category", "tier")), "shop_id").withColumn(
        "_tier", F.when(F.col("metric") == LEADERBOARD_METRIC, F.lit("")).otherwise(F.col("tier"))
    )
    group = Window.partitionBy("stat_date", "platform", "category", "_tier", "metric", "segment")
    goodness = F.when(lower, -F.round("value", 9)).otherwise(F.round("value", 9))
    not_better = group.orderBy(goodness).rangeBetween(Window.unboundedPreceding, Window.currentRow)
    average = F.when(lower, F.percentile("value", PEER_AVERAGE[registry.LOWER]).over(group)).otherwise(
        F.percentile("value", PEER_AVERAGE[registry.HIGHER]).over(group)
    )
    standing = (
        with_group.withColumn("peer_shops", F.count("*").over(group))
        .withColumn("peer_percentile", F.count("*").over(not_better) / F.col("peer_shops"))
        .withColumn("peer_average", average)
        .withColumn("_peers_final", F.min((F.col("maturity") == "final").cast("int")).over(group) == 1)
    )
    return standing.where(F.col("peer_shops") >= min_peers).select(
        "stat_date", "shop_id", "metric", "segment", "peer_average", "peer_percentile", "peer_shops", "_peers_final"
    )


def _first_explain_line(lower: Column) -> Column:
    """The day against the day before, as `csmetrics explain` splits it: the change and its
    numerator and denominator effects; against the baseline when the day before has no
    value."""
    n0, d0, n1, d1 = (F.col(c) for c in ("_previous_numerator", "_previous_denominator", "numerator", "denominator"))
    numerator_effect = F.lit(0.5) * (n1 - n0) * (F.lit(1.0) / d0 + F.lit(1.0) / d1)
    denominator_effect = F.lit(0.5) * (n0 + n1) * (F.lit(1.0) / d1 - F.lit(1.0) / d0)
    verb = F.when(F.col("value") > F.col("_previous"), "rose").when(F.col("value") < F.col("_previous"), "fell").otherwise("stayed")
    against_previous = F.concat_ws(" ", "metric", verb, F.lit("from"), _number(F.col("_previous")), F.lit("to"), _number(F.col("value")),
                                   F.lit("since the day before"))
    with_effects = F.concat(against_previous, F.lit(": numerator effect "), _number(numerator_effect, signed=True),
                            F.lit(", denominator effect "), _number(denominator_effect, signed=True))
    against_baseline = F.concat_ws(" ", "metric", F.lit("at"), _number(F.col("value")), F.lit("against a median of"),
                                   _number(F.col("baseline")), F.lit("over its last"), F.col("history_days").cast("string"),
                                   F.lit("days with support"))
    return (
        F.when(F.col("_previous").isNull(), against_baseline)
        .when((d0 > 0) & (d1 > 0), with_effects)
        .otherwise(against_previous)
    )


def _number(value: Column, signed: bool = False) -> Column:
    """A value rounded to 4 decimals, as Spark prints a double (Spark's %g keeps trailing zeros)."""
    text = F.round(value, 4).cast("string")
    return F.concat(F.when(value >= 0, "+").otherwise(""), text) if signed else text
