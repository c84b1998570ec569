"""Inquiry conversion and CS-attributed sales (SPEC §4): windows of 1 and 3 days.

Every consulting buyer of D (non-filtered session at the shop on local date D) has t0,
their first session start on D. From their orders at the shop:
  paid by end of D+1 / D+3 (paid_at >= t0)  -> inquiry_pay_rate_t1 / _final (pre-sale buyers)
  created in [t0, t0 + 72 h), paid before t0 + 72 h -> cs_sales_amount, cs_buyers, cs_items
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from csmetrics.metrics.buyer_status import PAID_ORDERS, consulting_buyers, with_after_sale
from csmetrics.metrics.family import METRIC_ROWS, Family, Inputs, Read
from csmetrics.metrics.long_format import aggregate, count_where
from csmetrics.registry import BY_ID
from csmetrics.timezones import local_day_end

ATTRIBUTION_HOURS = 72


def buyer_orders(buyers: DataFrame, orders: DataFrame) -> DataFrame:
    """Per consulting buyer-day: did they pay by the end of D+1 / D+3, and their attributed orders."""
    paid = orders.where(F.col("paid_at").isNotNull()).select(
        "shop_id", "buyer_id", "created_at", "paid_at", "amount", "item_count"
    )
    horizon = F.col("t0") + F.expr(f"INTERVAL {ATTRIBUTION_HOURS} HOURS")
    after_t0 = F.col("paid_at") >= F.col("t0")
    paid_t1 = after_t0 & (F.col("paid_at") < local_day_end(F.col("stat_date"), F.col("timezone"), BY_ID["inquiry_pay_rate_t1"].window_days))
    paid_final = after_t0 & (F.col("paid_at") < local_day_end(F.col("stat_date"), F.col("timezone"), BY_ID["inquiry_pay_rate_final"].window_days))
    attributed = (F.col("created_at") >= F.col("t0")) & (F.col("created_at") < horizon) & (F.col("paid_at") < horizon)
    return (
        buyers.join(paid, ["shop_id", "buyer_id"], "left")
        .groupBy("shop_id", "buyer_id", "stat_date", "is_after_sale")
        .agg(
            F.coalesce(F.max(paid_t1), F.lit(False)).alias("paid_t1"),
            F.coalesce(F.max(paid_final), F.lit(False)).alias("paid_final"),
            F.sum(F.when(attributed, F.col("amount"))).alias("cs_amount"),
            F.sum(F.when(attributed, F.col("item_count"))).alias("cs_items"),
            F.coalesce(F.max(attributed), F.lit(False)).alias("is_cs_buyer"),
        )
    )


def sales_metrics(sessions_of_dates: DataFrame, orders: DataFrame, paid: DataFrame) -> DataFrame:
    buyers = with_after_sale(consulting_buyers(sessions_of_dates), paid)
    per_buyer = buyer_orders(buyers, orders)
    inquiry = ~F.col("is_after_sale")
    cs_buyer = F.col("is_cs_buyer")
    amount = F.sum(F.when(cs_buyer, F.col("cs_amount")))
    items = F.sum(F.when(cs_buyer, F.col("cs_items")))
    return aggregate(
        per_buyer,
        {
            "inquiry_buyers": (count_where(inquiry), None),
            "inquiry_pay_rate_t1": (count_where(inquiry & F.col("paid_t1")), count_where(inquiry)),
            "inquiry_pay_rate_final": (count_where(inquiry & F.col("paid_final")), count_where(inquiry)),
            "cs_sales_amount": (amount, None),
            "cs_buyers": (count_where(cs_buyer), None),
            "cs_items": (items, None),
            "avg_order_value": (amount, count_where(cs_buyer)),
            "items_per_buyer": (items, count_where(cs_buyer)),
        },
    )


# Orders paid up to the end of D + 3 (inquiry_pay_rate_final) and created within 72 h of t0.
ORDERS_LOOKAHEAD_DAYS = 4


def _compute(inputs: Inputs, dates: list[date]) -> dict[str, DataFrame]:
    return {METRIC_ROWS: sales_metrics(inputs.sessions_of_dates(dates), inputs.read("orders"), inputs.paid())}


FAMILY = Family(
    "sales", (Read("sessions"), Read("orders", before=PAID_ORDERS.before, after=ORDERS_LOOKAHEAD_DAYS)), _compute, conformed_sessions=True
)
