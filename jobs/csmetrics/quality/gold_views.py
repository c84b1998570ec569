"""Derived frames the gold checks read (pure DataFrame -> DataFrame functions).

Rules that span rows (received <= transferred), tables (every shop with sessions has
conversation rows) or days (volume against the trailing week) become one row per key
with a column to check, so that GX can name the failing keys.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

TRAILING_DAYS = 7
VOLUME_METRIC = "consult_sessions"


def per_shop_day(rows: DataFrame) -> DataFrame:
    """One row per (stat_date, shop_id) with the session-count metrics as columns."""
    return (
        rows.groupBy("stat_date", "shop_id")
        .pivot("metric", ["transfer_sessions", "received_sessions"])
        .agg(F.first("value"))
        .fillna(0.0, ["transfer_sessions", "received_sessions"])
    )


def conversation_coverage(rows: DataFrame, sessions: DataFrame) -> DataFrame:
    """(stat_date, shop_id) of every shop with a non-filtered session on a date, and whether
    its conversation rows exist. `sessions` carry the shop's local `stat_date` and
    `is_filtered`; a shop whose only sessions were spam or internal expects none."""
    expected = sessions.where(~F.col("is_filtered")).select("stat_date", "shop_id").distinct()
    present = _volume(rows).select("stat_date", "shop_id", F.lit(True).alias("has_conversation_rows"))
    return expected.join(present, ["stat_date", "shop_id"], "left").fillna(False, ["has_conversation_rows"])


def shop_volume(rows: DataFrame, history: DataFrame, dates: list[date]) -> DataFrame:
    """Per shop and date: consult_sessions, its trailing 7-day median and their ratio."""
    return _against_trailing_median(_volume(rows), _volume(history), dates, ["shop_id"])


def platform_volume(rows: DataFrame, history: DataFrame, dates: list[date]) -> DataFrame:
    """Per date: the platform's consult_sessions, its trailing 7-day median and their ratio."""
    def total(frame):
        return _volume(frame).groupBy("stat_date").agg(F.sum("value").alias("value"))

    return _against_trailing_median(total(rows), total(history), dates, [])


def _volume(rows: DataFrame) -> DataFrame:
    return rows.where((F.col("metric") == VOLUME_METRIC) & (F.col("segment") == "all")).select(
        "stat_date", *(["shop_id"] if "shop_id" in rows.columns else []), "value"
    )


def _against_trailing_median(current: DataFrame, history: DataFrame, dates: list[date], keys: list[str]) -> DataFrame:
    """`ratio_to_trailing_median` is null until the seven previous days are all published
    (a young table or a gap says nothing about volume); a day without rows for a key
    counts as 0, so a shop that goes quiet pulls its median down."""
    dates_in_run = F.col("stat_date").isin(dates)
    # The run's own rows replace published ones of the same dates (re-runs, restatements).
    volumes = current.unionByName(history.where(~dates_in_run))
    trailing = volumes.withColumn(
        "for_date", F.explode(F.sequence(F.date_add("stat_date", 1), F.date_add("stat_date", TRAILING_DAYS)))
    ).where(F.col("for_date").isin(dates))
    days_known = trailing.groupBy("for_date").agg(F.countDistinct("stat_date").alias("days_known"))
    windows = trailing.groupBy("for_date", *keys).agg(F.collect_list("value").alias("values"))
    padded = F.concat("values", F.array_repeat(F.lit(0.0), F.lit(TRAILING_DAYS) - F.size("values")))
    median = F.element_at(F.sort_array(padded), TRAILING_DAYS // 2 + 1)
    windows = (
        # One row a date: broadcast (the gate plans its views without adaptive execution).
        windows.join(F.broadcast(days_known), "for_date")
        .select(
            F.col("for_date").alias("stat_date"),
            *keys,
            F.when(F.col("days_known") == TRAILING_DAYS, median).alias("trailing_median"),
        )
    )
    today = current.where(dates_in_run)
    joined = today.join(windows, ["stat_date", *keys], "full")
    return joined.select(
        "stat_date",
        *keys,
        F.coalesce("value", F.lit(0.0)).alias("value"),
        "trailing_median",
        F.try_divide(F.coalesce("value", F.lit(0.0)), "trailing_median").alias("ratio_to_trailing_median"),
    )
