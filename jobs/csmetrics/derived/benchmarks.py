"""Peer benchmarks and leaderboards of daily shop metrics (SPEC §5)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from csmetrics import registry

# Percentiles per direction: (peer average, peer excellent). "Top 40 %" is the 60th
# percentile when higher is better and the 40th when lower is better.
HIGHER_PERCENTILES, LOWER_PERCENTILES = (0.6, 0.9), (0.4, 0.1)


def _is_lower_better() -> Column:
    lower = [m.id for m in registry.METRICS if m.direction == registry.LOWER]
    return F.col("metric").isin(lower)


def direction() -> Column:
    """Counts and amounts rank like higher-is-better metrics (SPEC §4)."""
    return F.when(_is_lower_better(), registry.LOWER).otherwise(registry.HIGHER)


def supported(daily: DataFrame, shops: DataFrame, min_support: int) -> DataFrame:
    """Daily shop rows with the shop's platform, category and tier, for shops whose support
    (the denominator, or the count itself) reaches `min_support`."""
    support = F.coalesce(F.col("denominator"), F.col("numerator"))
    groups = shops.select("shop_id", "platform", "category", "tier")
    return daily.where(support >= min_support).join(F.broadcast(groups), "shop_id")


def peer_benchmarks(rows: DataFrame, min_peers: int, within: tuple[str, ...] = ()) -> DataFrame:
    """Per (platform, category, tier, stat_date, *within, metric, segment) of at least
    `min_peers` supported shops: peer count, peer average and peer excellent (`within`: the
    scene's columns, for scene benchmarks). A smaller group gets no row: the benchmark of one
    shop is its own value, and two shops could each work out the other's.
    Spark's exact `percentile` interpolates linearly between closest ranks, as
    numpy.percentile does by default."""
    percentiles = F.percentile("value", F.array(*[F.lit(p) for p in (*HIGHER_PERCENTILES, *LOWER_PERCENTILES)]))
    grouped = (
        rows.groupBy("platform", "category", "tier", "stat_date", *within, "metric", "segment")
        .agg(
            F.count("*").alias("peer_shops"),
            percentiles.alias("p"),
            F.max("maturity").alias("maturity"),  # provisional if any input is
        )
        .where(F.col("peer_shops") >= min_peers)
    )
    lower = _is_lower_better()
    return grouped.select(
        "platform",
        "category",
        "tier",
        "stat_date",
        *within,
        "metric",
        "segment",
        direction().alias("direction"),
        "peer_shops",
        F.when(lower, F.col("p")[2]).otherwise(F.col("p")[0]).alias("peer_average"),
        F.when(lower, F.col("p")[3]).otherwise(F.col("p")[1]).alias("peer_excellent"),
        "maturity",
    )


def leaderboard(rows: DataFrame) -> DataFrame:
    """Per (platform, category, stat_date, metric), segment `all`: shops best first. Ties (equal
    to 9 decimals) share a rank (1, 1, 3) and are listed by shop_id; percentile is 1 for the best shop and 0 for
    the worst, (n - rank) / (n - 1) in between (1 when a shop ranks alone)."""
    board = Window.partitionBy("platform", "category", "stat_date", "metric")
    # Equal to 9 decimals is a tie: means summed in a different order differ in the last bits.
    comparable = F.round("value", 9)
    best_first = F.when(_is_lower_better(), comparable).otherwise(-comparable)
    ordered = board.orderBy(best_first)
    ranked = rows.where(F.col("segment") == "all").withColumn("rank", F.rank().over(ordered).cast("int"))
    ranked = ranked.withColumn("ranked_shops", F.count("*").over(board))
    return ranked.select(
        "platform",
        "category",
        "stat_date",
        "metric",
        "rank",
        "shop_id",
        "value",
        F.when(F.col("ranked_shops") == 1, F.lit(1.0))
        .otherwise((F.col("ranked_shops") - F.col("rank")) / (F.col("ranked_shops") - 1))
        .alias("percentile"),
        "ranked_shops",
        "maturity",
    )
