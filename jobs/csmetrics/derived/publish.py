"""Recompute the derived tables for the dates a run published, from gold (I/O at the edges)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.bronze import read_bronze
from csmetrics.config import Settings
from csmetrics.delta_io import commit_metadata, merge_slice
from csmetrics.derived.benchmarks import leaderboard, peer_benchmarks, supported
from csmetrics.derived.weekly import DEFAULT_THRESHOLDS, final_through, governance_rows, monthly_rows, parse_thresholds, weekly_rows
from csmetrics.tables import BY_NAME, SHOP_METRICS_DAILY

LONGEST_WINDOW = max(m.window_days for m in registry.METRICS)


def week_starts(dates: list[date]) -> list[date]:
    return sorted({d - timedelta(days=d.weekday()) for d in dates})


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def derive(spark: SparkSession, settings: Settings, dates: list[date], run_id: str) -> dict[str, int]:
    """Weekly rollups and governance for the ISO weeks of `dates`, monthly rollups for their
    months, benchmarks and leaderboards for `dates` themselves; each written by one MERGE that touches only changed rows.
    Returns the rows each MERGE changed."""
    weeks = week_starts(dates)
    daily = spark.read.format("delta").load(SHOP_METRICS_DAILY.path(settings))
    last_sunday = weeks[-1] + timedelta(days=6)
    week_days = daily.where(F.col("stat_date").between(F.lit(weeks[0]), F.lit(last_sunday)))
    # Finality of the weeks' days shows in the rows up to the longest window after them.
    horizon = daily.where(F.col("stat_date").between(F.lit(weeks[0]), F.lit(last_sunday + timedelta(days=LONGEST_WINDOW))))
    weekly = weekly_rows(week_days, final_through(horizon))
    months = sorted({d.replace(day=1) for d in dates})
    month_end = _month_end(months[-1])
    month_days = daily.where(F.col("stat_date").between(F.lit(months[0]), F.lit(month_end)))
    month_horizon = daily.where(F.col("stat_date").between(F.lit(months[0]), F.lit(month_end + timedelta(days=LONGEST_WINDOW))))
    monthly = monthly_rows(month_days, final_through(month_horizon))
    thresholds = parse_thresholds(settings.governance_thresholds) if settings.governance_thresholds else DEFAULT_THRESHOLDS
    peers = supported(daily.where(F.col("stat_date").isin(dates)), read_bronze(spark, settings, "shops"), settings.min_support)
    frames = {
        "shop_metrics_weekly": (weekly, weeks),
        "shop_metrics_monthly": (monthly, months),
        "governance_weekly": (governance_rows(weekly, thresholds), weeks),
        "peer_benchmarks_daily": (peer_benchmarks(peers), dates),
        "leaderboard_daily": (leaderboard(peers), dates),
    }
    stamp = datetime.now(UTC)
    written = {}
    with commit_metadata(spark, run_id):
        for table, (rows, partitions) in frames.items():
            written[table] = _write(spark, settings, table, rows, partitions, run_id, stamp)
    return written


def _write(spark, settings, table: str, rows: DataFrame, partitions, run_id: str, stamp: datetime) -> int:
    declared = BY_NAME[table]
    (partition,) = declared.partition_by
    target = declared.ensure(spark, settings)
    stamped = rows.withColumn("run_id", F.lit(run_id)).withColumn("computed_at", F.lit(stamp).cast("timestamp"))
    return merge_slice(target, stamped.select(*declared.schema.fieldNames()), list(declared.keys), partition, partitions)
