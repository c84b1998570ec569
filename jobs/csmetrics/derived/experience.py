"""The service experience score (docs/derived.md): a few core indicators over the trailing
30 local days, each placed among the shop's peers, and their weighted mean.

A platform judges a shop's service by a handful of indicators; a shop wants to know which of
them pulls its score down and how far it could climb. Each indicator row says where the shop
stands among its peers (`points`) and what reaching the peers' excellent value would add to
its score (`lift_to_excellent`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from csmetrics import registry

WINDOW_DAYS = 30
# A score from one or two indicators would judge a shop's service by a corner of it.
MIN_INDICATORS = 3
SCORE = "score"
# The metric id of the score in the leaderboard.
LEADERBOARD_METRIC = "experience_score"
# Douyin's five core indicators of a shop's service experience, equally weighted.
DEFAULT_INDICATORS = "complaint_rate_14d;dispute_merchant_rate;return_refund_wait_seconds;refund_only_wait_seconds;reply_3min_rate"
# Peer excellent (SPEC §5): the 90th percentile where higher is better, the 10th where lower is.
EXCELLENT = {registry.HIGHER: 0.9, registry.LOWER: 0.1}


@dataclass(frozen=True)
class Indicator:
    metric: str
    weight: float = 1.0

    @property
    def lower_is_better(self) -> bool:
        return registry.BY_ID[self.metric].direction == registry.LOWER


def parse_indicators(text: str) -> tuple[Indicator, ...]:
    """`metric[:weight];...` -> indicators: each a ratio or mean metric of the registry with a
    direction (its value is Σ numerators / Σ denominators over the window, and better or worse
    than a peer's), named once, with a positive weight; at least MIN_INDICATORS of them."""
    found: list[Indicator] = []
    for item in filter(None, (part.strip() for part in text.replace(",", ";").split(";"))):
        metric, _, weight_text = (part.strip() for part in item.partition(":"))
        if metric not in registry.BY_ID:
            raise ValueError(f"unknown metric {metric!r}")
        described = registry.BY_ID[metric]
        if not described.has_denominator or described.direction == registry.VOLUME:
            raise ValueError(f"{metric!r} is a {described.kind}: an indicator must be a ratio or a mean that is better higher or lower")
        try:
            weight = float(weight_text) if weight_text else 1.0
        except ValueError:
            raise ValueError(f"the weight of {metric!r} is not a number: {weight_text!r}") from None
        if not weight > 0:  # also refuses nan
            raise ValueError(f"the weight of {metric!r} must be above 0, not {weight_text}")
        if any(i.metric == metric for i in found):
            raise ValueError(f"{metric!r} is named twice")
        found.append(Indicator(metric, weight))
    if len(found) < MIN_INDICATORS:
        raise ValueError(f"{len(found)} indicator(s) named; a score needs at least {MIN_INDICATORS}")
    return tuple(found)


def score_dates(dates: list[date]) -> list[date]:
    """The dates whose score a change of `dates`' daily rows can move: each date and the 29
    after it (their windows hold it)."""
    return sorted({day + timedelta(days=k) for day in dates for k in range(WINDOW_DAYS)})


def window_rows_wanted(dates: list[date]) -> Column:
    """The daily rows the scores of `score_dates(dates)` sum (a filter on stat_date)."""
    first, last = min(dates), max(score_dates(dates))
    return F.col("stat_date").between(F.lit(first - timedelta(days=WINDOW_DAYS - 1)), F.lit(last))


def experience_scores(
    daily: DataFrame,
    shops: DataFrame,
    dates: list[date],
    indicators: tuple[Indicator, ...],
    final_through: Mapping[int, date],
    unfinished: DataFrame,
    min_support: int,
    min_peers: int,
    through: date | None = None,
) -> DataFrame:
    """The score rows of `score_dates(dates)` up to `through` (by default the latest date of
    the indicators' rows): per shop with data for an indicator in the window, one row per
    indicator and one `score` row.

    `daily`: shop_metrics_daily rows (at least those `window_rows_wanted(dates)` selects);
    `shops`: shop_id, platform, category; `final_through`: {window_days: the latest stat_date
    final for the metrics of that window}; `unfinished`: stat_date, shop_id, metric of
    held-back slices not settled yet (csmetrics.finality)."""
    spark = daily.sparkSession
    wanted = score_dates(dates)
    metrics = [i.metric for i in indicators]
    rows = daily.where(window_rows_wanted(dates) & F.col("metric").isin(metrics) & (F.col("segment") == "all"))
    latest = rows.agg(F.max("stat_date").alias("_latest")) if through is None else spark.range(1).select(F.lit(through).alias("_latest"))
    held = unfinished.where(F.col("metric").isin(metrics)).select(
        "stat_date", "shop_id", "metric", F.lit(0.0).alias("numerator"), F.lit(0.0).alias("denominator"),
        F.lit("provisional").alias("maturity"),
    )
    days = rows.select("stat_date", "shop_id", "metric", "numerator", "denominator", "maturity").unionByName(held)
    # Each daily row counts in the windows of the 30 dates from its own on.
    in_windows = days.withColumn(
        "score_date", F.explode(F.sequence(F.col("stat_date"), F.date_add("stat_date", WINDOW_DAYS - 1)))
    ).where(F.col("score_date").isin(wanted)).crossJoin(F.broadcast(latest)).where(F.col("score_date") <= F.col("_latest"))
    summed = in_windows.groupBy("score_date", "shop_id", F.col("metric").alias("indicator")).agg(
        F.sum("numerator").alias("numerator"),
        F.sum("denominator").alias("denominator"),
        F.max("maturity").alias("_own_maturity"),  # "provisional" sorts after "final"
    )
    catalog = spark.createDataFrame(
        [(i.metric, i.weight, registry.LOWER if i.lower_is_better else registry.HIGHER, registry.BY_ID[i.metric].window_days)
         for i in indicators],
        "indicator string, weight double, direction string, window_days int",
    )
    final_day = F.create_map(*[x for window, day in final_through.items() for x in (F.lit(window), F.lit(day))]) if final_through else None
    slices_final = (F.col("score_date") <= final_day[F.col("window_days")]) if final_day is not None else F.lit(False)
    # Every shop with data for an indicator in a window gets a row for each indicator.
    shop_dates = summed.select("score_date", "shop_id").distinct().join(F.broadcast(shops.select("shop_id", "platform", "category")), "shop_id")
    grid = shop_dates.crossJoin(F.broadcast(catalog)).join(summed, ["score_date", "shop_id", "indicator"], "left")
    has_data = F.col("denominator") > 0
    value = F.when(has_data, F.col("numerator") / F.col("denominator"))
    own_final = F.coalesce(slices_final, F.lit(False)) & (F.coalesce(F.col("_own_maturity"), F.lit("final")) == "final")
    rated = grid.select(
        "score_date", "shop_id", "platform", "category", "indicator", "weight", "direction",
        "numerator", "denominator", value.alias("value"), own_final.alias("_own_final"),
        (has_data & (F.col("denominator") >= min_support)).alias("_supported"),
    )
    return _placed_and_scored(rated, min_peers)


def _placed_and_scored(rated: DataFrame, min_peers: int) -> DataFrame:
    """Points, peer excellent and lift of each indicator row, then the shop's score row.

    A row is final when the shop's own window is, and its peers' too: a peer's value that
    can still change can still move the shop's points."""
    group = ["score_date", "platform", "category", "indicator"]
    peers = Window.partitionBy(*group)
    lower = F.col("direction") == registry.LOWER
    # Larger is better; equal to 9 decimals is a tie (as in the leaderboard).
    goodness = lambda column: F.when(lower, -F.round(column, 9)).otherwise(F.round(column, 9))  # noqa: E731
    rated = rated.withColumn("_final", F.min(F.col("_own_final").cast("int")).over(peers) == 1)
    not_better = peers.orderBy(goodness(F.col("value"))).rangeBetween(Window.unboundedPreceding, Window.currentRow)
    excellent = F.when(lower, F.percentile("value", EXCELLENT[registry.LOWER]).over(peers)).otherwise(
        F.percentile("value", EXCELLENT[registry.HIGHER]).over(peers)
    )
    placed = (
        rated.where("_supported")
        .withColumn("peer_shops", F.count("*").over(peers))
        .withColumn("points", 100.0 * F.count("*").over(not_better) / F.col("peer_shops"))
        .withColumn("peer_excellent", excellent)
    )
    placed = placed.withColumn(
        "_excellent_points",
        100.0 * F.count(F.when(goodness(F.col("value")) <= goodness(F.col("peer_excellent")), 1)).over(peers) / F.col("peer_shops"),
    ).select(*group, "shop_id", "peer_shops", "points", "peer_excellent", "_excellent_points")
    scored = F.col("points").isNotNull() & (F.col("peer_shops") >= min_peers)
    shop = Window.partitionBy("score_date", "shop_id")
    rows = (
        rated.join(placed, [*group, "shop_id"], "left")
        .withColumn("_scored", scored)
        .withColumn("_scored_indicators", F.sum(scored.cast("int")).over(shop).cast("int"))
        .withColumn("_scored_weight", F.sum(F.when(scored, F.col("weight"))).over(shop))
    )
    has_score = F.col("_scored_indicators") >= MIN_INDICATORS
    gain = F.greatest(F.lit(0.0), F.col("_excellent_points") - F.col("points"))
    indicator_rows = rows.select(
        "score_date", "shop_id", "platform", "category", "indicator", "numerator", "denominator", "value", "direction", "weight",
        F.when(scored, F.col("peer_shops")).alias("peer_shops"),
        F.when(scored, F.col("points")).alias("points"),
        F.when(scored, F.col("peer_excellent")).alias("peer_excellent"),
        F.when(scored & has_score, F.col("weight") / F.col("_scored_weight") * gain).alias("lift_to_excellent"),
        F.col("_scored_indicators").alias("scored_indicators"),
        _indicator_reason(min_peers).alias("reason"),
        F.when(F.col("_final"), "final").otherwise("provisional").alias("maturity"),
    )
    # To 9 decimals, as ties are judged: a sum's last bit follows the order Spark adds in, and
    # decimal weights of 100 points each would sum to a hair above 100.
    mean = F.round(F.sum(F.when(F.col("_scored"), F.col("weight") * F.col("points"))) / F.sum(F.when(F.col("_scored"), F.col("weight"))), 9)
    scored_enough = F.col("scored_indicators") >= MIN_INDICATORS
    score_rows = (
        rows.groupBy("score_date", "shop_id", "platform", "category")
        .agg(
            mean.alias("_mean"),
            F.first("_scored_indicators").alias("scored_indicators"),
            F.min(F.col("_final").cast("int")).alias("_final"),
            F.count("*").alias("_indicators"),
        )
        .select(
            "score_date", "shop_id", "platform", "category", F.lit(SCORE).alias("indicator"),
            F.lit(None).cast("double").alias("numerator"), F.lit(None).cast("double").alias("denominator"),
            F.when(scored_enough, F.col("_mean")).alias("value"),
            F.lit(registry.HIGHER).alias("direction"), F.lit(None).cast("double").alias("weight"),
            F.lit(None).cast("long").alias("peer_shops"), F.lit(None).cast("double").alias("points"),
            F.lit(None).cast("double").alias("peer_excellent"), F.lit(None).cast("double").alias("lift_to_excellent"),
            "scored_indicators",
            F.when(
                ~scored_enough,
                F.format_string(
                    f"%d of %d indicators placed among peers; a score needs at least {MIN_INDICATORS}",
                    F.col("scored_indicators"), F.col("_indicators"),
                ),
            ).alias("reason"),
            F.when(F.col("_final") == 1, "final").otherwise("provisional").alias("maturity"),
        )
    )
    return indicator_rows.unionByName(score_rows).withColumnRenamed("score_date", "stat_date")


def _indicator_reason(min_peers: int) -> Column:
    """Why an indicator row has no points (null when it has)."""
    return (
        F.when(F.col("value").isNull(), F.lit(f"no data in the {WINDOW_DAYS} days"))
        .when(~F.col("_supported"), F.format_string("support %.0f below CSMETRICS_MIN_SUPPORT", F.col("denominator")))
        .when(
            F.col("peer_shops") < min_peers,
            F.format_string(f"%d supported peer(s) in the platform and category, CSMETRICS_MIN_PEERS is {min_peers}", F.col("peer_shops")),
        )
    )


def leaderboard_rows(scores: DataFrame) -> DataFrame:
    """The scored shops as rows of the leaderboard's input (metric `experience_score`)."""
    return scores.where((F.col("indicator") == SCORE) & F.col("value").isNotNull()).select(
        "platform", "category", "stat_date", F.lit(LEADERBOARD_METRIC).alias("metric"), F.lit("all").alias("segment"),
        "shop_id", "value", "maturity",
    )
