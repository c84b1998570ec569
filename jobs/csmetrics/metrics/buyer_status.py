"""Who a buyer is on a day (SPEC §3): consulting buyers and their first contact, after-sale status."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from csmetrics.metrics.family import TIMEZONE_MARGIN_DAYS, Read

AFTER_SALE_LOOKBACK_DAYS = 21
# Platforms close unpaid orders long before a week: an order paid on a local date was
# created (its event date) at most this many days before.
PAYMENT_LAG_DAYS = 7
# The orders whose payments decide after-sale status on a family's dates (csmetrics.conformed.paid_days).
PAID_ORDERS = Read("orders", before=AFTER_SALE_LOOKBACK_DAYS + PAYMENT_LAG_DAYS + TIMEZONE_MARGIN_DAYS)
BUYER_DAY = ["shop_id", "buyer_id", "stat_date"]


def with_after_sale(frame: DataFrame, paid: DataFrame) -> DataFrame:
    """Add `is_after_sale` to rows keyed by shop_id, buyer_id, stat_date: the buyer paid an
    order at this shop on a local date in [stat_date - 21, stat_date - 1]."""
    keys = frame.select(*BUYER_DAY).distinct().alias("k")
    p = paid.alias("p")
    in_window = (
        (F.col("k.shop_id") == F.col("p.shop_id"))
        & (F.col("k.buyer_id") == F.col("p.buyer_id"))
        & F.col("p.paid_date").between(
            F.date_sub(F.col("k.stat_date"), AFTER_SALE_LOOKBACK_DAYS), F.date_sub(F.col("k.stat_date"), 1)
        )
    )
    after_sale = keys.join(p, in_window, "left_semi").select(*BUYER_DAY).withColumn("is_after_sale", F.lit(True))
    return frame.join(after_sale, BUYER_DAY, "left").withColumn(
        "is_after_sale", F.coalesce(F.col("is_after_sale"), F.lit(False))
    )


def consulting_buyers(sessions_of_dates: DataFrame) -> DataFrame:
    """Per (shop_id, buyer_id, stat_date) of non-filtered sessions: t0, the first session start."""
    return (
        sessions_of_dates.where(~F.col("is_filtered"))
        .groupBy(*BUYER_DAY, "timezone")
        .agg(F.min("started_at").alias("t0"))
    )
