"""The compute job: bronze as it had landed by the run's cutoff -> metric rows in a staging table."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.bronze import read_bronze
from csmetrics.config import Settings
from csmetrics.metrics.after_sale import COMPLAINT_COHORT_LAG_DAYS, complaint_cohort_metrics, ticket_metrics
from csmetrics.metrics.buyer_status import AFTER_SALE_LOOKBACK_DAYS, paid_days
from csmetrics.metrics.conversation import Reuse, as_is, conversation_metrics, sessions_of_dates
from csmetrics.metrics.follow_up import fcr_metrics, resolution_metrics
from csmetrics.metrics.sales import sales_metrics
from csmetrics.metrics.satisfaction import satisfaction_metrics
from csmetrics.metrics.long_format import agent_rows, finish, shop_rows
from csmetrics.plan import RunPlan
from csmetrics.schemas.gold import GOLD_TABLES

# How far around the plan's dates each input is read (UTC event dates of bronze partitions).
# Local dates reach one day either side of UTC dates (offsets -12 h .. +14 h).
TIMEZONE_MARGIN_DAYS = 1
# A session's messages may continue past the next midnight.
MESSAGE_MARGIN_DAYS = 2
# fcr_3d looks for recontacts up to 72 h after a session of its last date.
RECONTACT_LOOKAHEAD_DAYS = 4
# Orders paid on [D - 21, D - 1] decide after-sale status; platforms close unpaid orders
# long before a week, so such orders were created at most this many days before payment.
PAYMENT_LAG_DAYS = 7
# Tickets closed on D were created at most this many days before (arbitration included).
TICKET_OPEN_DAYS = 60
# resolution_rate_15d looks for complaints up to 360 h after a contact.
COMPLAINT_LOOKAHEAD_DAYS = 16


def staging_path(settings: Settings, table: str, run_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in run_id)
    return settings.table_path("staging", f"{table}/{safe}")


def _around(dates: list[date], before: int, after: int) -> tuple[date, date]:
    return dates[0] - timedelta(days=before), dates[-1] + timedelta(days=after)


class Persisted:
    """The frames one job reads several times, persisted for that job and released after it."""

    def __init__(self) -> None:
        self._frames: list[DataFrame] = []

    def __call__(self, frame: DataFrame) -> DataFrame:
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._frames.append(frame)
        return frame

    def release(self) -> None:
        for frame in self._frames:
            frame.unpersist()
        self._frames.clear()


def metric_rows(spark: SparkSession, settings: Settings, plan: RunPlan, reuse: Reuse = as_is) -> DataFrame:
    """Long metric rows (both grains) of every (stat_date, metric) slice the plan owns.

    Each input is pruned to the event dates the plan's metrics need and to the versions
    that had arrived by the plan's cutoff. Sessions and messages are read twice on purpose:
    narrowly for the conversation metrics (the heavy message join), widely for the delayed
    families, which share one read.
    """
    def read(table, event_dates=None):
        return read_bronze(spark, settings, table, event_dates, plan.cutoff)

    dates = plan.dates
    conversation, satisfaction = plan.dates_for("conversation"), plan.dates_for("satisfaction")
    sales, fcr, resolution = plan.dates_for("sales"), plan.dates_for("fcr"), plan.dates_for("resolution")
    complaint_cohort, tickets = plan.dates_for("complaints"), plan.dates_for("after_sale")
    margin = TIMEZONE_MARGIN_DAYS

    shops = read("shops")
    sessions = read("sessions", _around(dates, margin + 1, RECONTACT_LOOKAHEAD_DAYS))
    orders = read("orders", _around(dates, AFTER_SALE_LOOKBACK_DAYS + PAYMENT_LAG_DAYS + margin, RECONTACT_LOOKAHEAD_DAYS))
    after_sales = read("after_sales", _around(dates, TICKET_OPEN_DAYS + margin, margin))
    complaints = read("complaints", _around(dates, COMPLAINT_COHORT_LAG_DAYS + margin, COMPLAINT_LOOKAHEAD_DAYS))
    paid = paid_days(orders, shops)

    parts = []
    if conversation:
        # Its own narrow read: the widest input of the day should not drag 3 weeks of
        # sessions into the message join.
        conversation_sessions = read("sessions", _around(conversation, margin, margin))
        messages = read("messages", _around(conversation, margin, MESSAGE_MARGIN_DAYS))
        parts.append(
            conversation_metrics(
                conversation_sessions,
                messages,
                shops,
                conversation,
                settings.business_start,
                settings.business_end,
                reuse,
            )
        )
    if satisfaction:
        ratings = read("ratings", _around(satisfaction, margin, margin))
        parts.append(satisfaction_metrics(ratings, sessions, shops, paid, satisfaction))
    if sales:
        parts.append(sales_metrics(sessions_of_dates(sessions, shops, sales), orders, paid))
    if fcr:
        human_messages = read("messages", _around(fcr, margin, MESSAGE_MARGIN_DAYS)).where(F.col("sender_role") == "human")
        parts.append(fcr_metrics(sessions_of_dates(sessions, shops, fcr), sessions, human_messages, paid))
    if resolution:
        parts.append(
            resolution_metrics(sessions_of_dates(sessions, shops, resolution), after_sales, complaints, shops, paid, resolution)
        )
    if complaint_cohort:
        parts.append(complaint_cohort_metrics(orders, complaints, shops, complaint_cohort))
    if tickets:
        parts.append(ticket_metrics(after_sales, shops, tickets))
    # Families compute whole date ranges; keep exactly the slices the plan owns.
    return reduce(DataFrame.unionByName, parts).where(F.expr(plan.replace_predicate()))


def finished_rows(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str, reuse: Reuse = as_is) -> DataFrame:
    """Metric rows of both grains with value, maturity and lineage (lazy)."""
    shops = read_bronze(spark, settings, "shops", cutoff=plan.cutoff)
    rows = metric_rows(spark, settings, plan, reuse)
    return finish(rows, shops, plan.run_date, run_id, datetime.now(timezone.utc))


def stage(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str) -> dict[str, str]:
    """Compute the plan's metric rows once and write each gold table's share of them to its
    staging location; return the paths."""
    # Both tables come from one computation: without persisting the finished rows, each
    # write would run the whole job again. They are few (shops x metrics x dates); the work
    # behind them is large.
    persisted = Persisted()
    finished = persisted(finished_rows(spark, settings, plan, run_id, persisted))
    tables = {
        "shop_metrics_daily": shop_rows(finished, GOLD_TABLES["shop_metrics_daily"][0]),
        "agent_metrics_daily": agent_rows(finished, GOLD_TABLES["agent_metrics_daily"][0]),
    }
    paths = {}
    try:
        for table, rows in tables.items():
            path = staging_path(settings, table, run_id)
            rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
            paths[table] = path
    finally:
        persisted.release()
    return paths
