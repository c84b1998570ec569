"""A short text view of gold tables, for people at a terminal."""

from __future__ import annotations

from datetime import date

from deltalake import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.config import Settings
from csmetrics.delta_io import table_exists
from csmetrics.export import gold_table_missing
from csmetrics.publish import gold_path
from csmetrics.spark import get_spark
from csmetrics.tables import BY_NAME


def _gold(settings: Settings, table: str) -> DataFrame:
    """gold/<table> read with Spark. A table that is not there fails in one line that says what
    to do; in a local warehouse that is known before Spark starts (delta-rs reads the log)."""
    path = gold_path(settings, table)
    remote = "://" in path
    if not remote and not DeltaTable.is_deltatable(path):
        raise gold_table_missing(settings, table)
    spark = get_spark(settings)
    if remote and not table_exists(spark, path):
        raise gold_table_missing(settings, table)
    return BY_NAME[table].read(spark, settings)


def show_gold(stat_date: date | None = None, shop_id: str | None = None, limit: int = 40) -> str:
    settings = Settings.from_env()
    rows = _gold(settings, "shop_metrics_daily")
    if stat_date:
        rows = rows.where(F.col("stat_date") == F.lit(stat_date))
    if shop_id:
        rows = rows.where(F.col("shop_id") == shop_id)
    picked = (
        rows.orderBy("stat_date", "shop_id", "metric", "segment")
        .select("stat_date", "shop_id", "metric", "segment", "numerator", "denominator", "value", "maturity")
        .limit(limit)
        .collect()
    )
    header = f"{'stat_date':10s}  {'shop_id':8s}  {'metric':28s} {'segment':8s} {'numerator':>12s} {'denominator':>12s} {'value':>10s}  maturity"
    lines = [header]
    for r in picked:
        den = "" if r.denominator is None else f"{r.denominator:12.0f}"
        lines.append(
            f"{r.stat_date!s:10s}  {r.shop_id:8s}  {r.metric:28s} {r.segment:8s} {r.numerator:12.2f} {den:>12s} {r.value:10.3f}  {r.maturity}"
        )
    lines.append(f"gold tables: {settings.warehouse}/gold")
    return "\n".join(lines)


def show_shop_matrix(shop_id: str) -> str:
    """One shop's metrics (rows) over its stat_dates (columns): value, F final / p provisional."""
    settings = Settings.from_env()
    rows = (
        _gold(settings, "shop_metrics_daily")
        .where(F.col("shop_id") == shop_id)
        .select("stat_date", "metric", "segment", "value", "maturity")
        .collect()
    )
    dates = sorted({r.stat_date for r in rows})[-6:]
    cells = {(r.metric, r.segment, r.stat_date): f"{r.value:10.3f} {'F' if r.maturity == 'final' else 'p'}" for r in rows}
    order = {m.id: i for i, m in enumerate(registry.METRICS)}
    keys = sorted({(r.metric, r.segment) for r in rows}, key=lambda k: (order.get(k[0], 99), k[1]))
    lines = [f"{shop_id}: value per stat_date (F final, p provisional)", f"{'metric':28s} {'segment':9s} " + " ".join(f"{d!s:>12s}" for d in dates)]
    for metric, segment in keys:
        lines.append(f"{metric:28s} {segment:9s} " + " ".join(f"{cells.get((metric, segment, d), ''):>12s}" for d in dates))
    return "\n".join(lines)


def _latest(frame, stat_date: date | None):
    """Rows of `stat_date`, or of the latest stat_date with rows."""
    if stat_date is None:
        stat_date = frame.agg(F.max("stat_date")).first()[0]
    return frame.where(F.col("stat_date") == F.lit(stat_date)), stat_date


def show_leaderboard(metric: str, stat_date: date | None = None, category: str | None = None, limit: int = 10) -> str:
    """The top of one category's leaderboard for a metric (the largest category by default)."""
    settings = Settings.from_env()
    board = _gold(settings, "leaderboard_daily").where(F.col("metric") == metric)
    board, stat_date = _latest(board, stat_date)
    if stat_date is None:
        return f"leaderboard of {metric}: no rows yet"
    if category is None:
        largest = board.groupBy("platform", "category").agg(F.max("ranked_shops").alias("n")).orderBy(F.desc("n"), "platform", "category").first()
        board = board.where((F.col("platform") == largest.platform) & (F.col("category") == largest.category))
    else:
        board = board.where(F.col("category") == category)
    rows = board.orderBy("platform", "category", "rank", "shop_id").limit(limit).collect()
    if not rows:
        return f"leaderboard of {metric} on {stat_date}: no shop meets the minimum support"
    lines = [f"leaderboard {rows[0].platform}/{rows[0].category}, {metric}, {stat_date} ({rows[0].ranked_shops} ranked shops, {rows[0].maturity})",
             f"{'rank':>4s}  {'shop_id':10s} {'value':>10s} {'percentile':>10s}"]
    lines += [f"{r.rank:4d}  {r.shop_id:10s} {r.value:10.3f} {r.percentile:10.2f}" for r in rows]
    return "\n".join(lines)


def show_benchmarks(category: str, stat_date: date | None = None, metrics: tuple[str, ...] = ()) -> str:
    """Peer average and peer excellent of one category, per platform and tier (segment all)."""
    settings = Settings.from_env()
    frame = (
        _gold(settings, "peer_benchmarks_daily")
        .where((F.col("category") == category) & (F.col("segment") == "all"))
    )
    if metrics:
        frame = frame.where(F.col("metric").isin(list(metrics)))
    frame, stat_date = _latest(frame, stat_date)
    rows = frame.orderBy("metric", "platform", "tier").collect()
    if not rows:
        return (f"peer benchmarks of {category}: none, too few peers (a platform, category and tier has benchmarks "
                f"when at least {settings.min_peers} of its shops have enough volume: CSMETRICS_MIN_PEERS, CSMETRICS_MIN_SUPPORT)")
    lines = [f"peer benchmarks, category {category}, {stat_date}",
             f"{'metric':28s} {'platform':8s} {'tier':4s} {'peers':>5s} {'peer avg':>10s} {'excellent':>10s}  direction"]
    lines += [
        f"{r.metric:28s} {r.platform:8s} {r.tier:4s} {r.peer_shops:5d} {r.peer_average:10.3f} {r.peer_excellent:10.3f}  {r.direction}"
        for r in rows
    ]
    return "\n".join(lines)
