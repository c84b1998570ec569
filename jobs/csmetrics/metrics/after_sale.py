"""After-sale tickets closed on D and the 14-day complaint cohort (SPEC §4, window 0)."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from csmetrics.conformed import tickets_on, with_local_date
from csmetrics.metrics.buyer_status import PAYMENT_LAG_DAYS
from csmetrics.metrics.family import METRIC_ROWS, TIMEZONE_MARGIN_DAYS, Family, Inputs, Read
from csmetrics.metrics.long_format import aggregate, count_where
from csmetrics.timezones import seconds_between

COMPLAINT_COHORT_LAG_DAYS = 14
COMPLAINT_WINDOW_HOURS = 336


def ticket_metrics(after_sales: DataFrame, shops: DataFrame, dates: list[date]) -> DataFrame:
    """Tickets closed on local date D: merchant responsibility, merchant waits, refund cycle."""
    closed = tickets_on(after_sales, shops, "closed_at", dates)
    kind = F.col("kind")
    return_like = kind.isin("return_refund", "exchange")
    refund_only = kind == "refund_only"
    refund = kind.isin("refund_only", "return_refund")
    wait = F.col("merchant_wait_seconds")
    return aggregate(
        closed,
        {
            "dispute_merchant_rate": (count_where(F.col("responsibility") == "merchant"), F.count(F.lit(1))),
            "return_refund_wait_seconds": (F.sum(F.when(return_like, wait)), count_where(return_like)),
            "refund_only_wait_seconds": (F.sum(F.when(refund_only, wait)), count_where(refund_only)),
            "refund_cycle_seconds": (
                F.sum(F.when(refund, seconds_between(F.col("closed_at"), F.col("created_at")))),
                count_where(refund),
            ),
        },
    )


def complaint_cohort_metrics(orders: DataFrame, complaints: DataFrame, shops: DataFrame, dates: list[date]) -> DataFrame:
    """complaint_rate_14d of D: orders paid on D - 14 with a complaint within 336 h of payment."""
    cohort = (
        with_local_date(orders.where(F.col("paid_at").isNotNull()), shops, "paid_at", "paid_date")
        .withColumn("stat_date", F.date_add(F.col("paid_date"), COMPLAINT_COHORT_LAG_DAYS))
        .where(F.col("stat_date").isin(dates))
        .select("order_id", "shop_id", "stat_date", "paid_at")
    )
    c = complaints.where(F.col("kind") == "complaint").select(
        "order_id", F.col("created_at").alias("complained_at")
    )
    within = F.col("complained_at").between(
        F.col("paid_at"), F.col("paid_at") + F.expr(f"INTERVAL {COMPLAINT_WINDOW_HOURS} HOURS")
    )
    complained = cohort.join(c, "order_id").where(within).select("order_id").distinct().withColumn("complained", F.lit(True))
    flagged = cohort.join(complained, "order_id", "left")
    return aggregate(
        flagged,
        {"complaint_rate_14d": (count_where(F.col("complained").isNotNull()), F.count(F.lit(1)))},
    )


# Tickets closed on D were created at most this many days before (arbitration included).
TICKET_OPEN_DAYS = 60


def _tickets(inputs: Inputs, dates: list[date]) -> dict[str, DataFrame]:
    return {METRIC_ROWS: ticket_metrics(inputs.read("after_sales"), inputs.shops, dates)}


def _complaint_cohort(inputs: Inputs, dates: list[date]) -> dict[str, DataFrame]:
    return {METRIC_ROWS: complaint_cohort_metrics(inputs.read("orders"), inputs.read("complaints"), inputs.shops, dates)}


TICKETS = Family("after_sale", (Read("after_sales", before=TICKET_OPEN_DAYS + TIMEZONE_MARGIN_DAYS),), _tickets)
# The cohort of D was paid on D - 14; its complaints come within 336 h of payment, by D.
COMPLAINT_COHORT = Family(
    "complaints",
    (
        Read("orders", before=COMPLAINT_COHORT_LAG_DAYS + PAYMENT_LAG_DAYS + TIMEZONE_MARGIN_DAYS),
        Read("complaints", before=COMPLAINT_COHORT_LAG_DAYS + TIMEZONE_MARGIN_DAYS),
    ),
    _complaint_cohort,
)
