"""Did after-sale contacts stay resolved? fcr_3d (window 3) and resolution_rate_15d (window 15)."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from csmetrics.conformed import is_filtered, is_human_reply, received_session_ids, tickets_on
from csmetrics.metrics.buyer_status import BUYER_DAY, PAID_ORDERS, with_after_sale
from csmetrics.metrics.family import METRIC_ROWS, Family, Inputs, Read
from csmetrics.metrics.long_format import aggregate, count_where
from csmetrics.metrics.scenes import SCENE_METRICS, scene_fcr, scene_resolution
from csmetrics.registry import BY_ID

# The windows are the registry's, in hours.
RECONTACT_HOURS = 24 * BY_ID["fcr_3d"].window_days
RESOLUTION_HOURS = 24 * BY_ID["resolution_rate_15d"].window_days


def fcr_metrics(sessions_of_dates: DataFrame, all_sessions: DataFrame, messages: DataFrame, paid: DataFrame) -> DataFrame:
    """fcr_3d: after-sale buyers' received sessions of D without a human recontact in (start, start + 72 h]."""
    return fcr_of(fcr_sessions(sessions_of_dates, all_sessions, messages, paid))


def fcr_measures() -> dict:
    """fcr_3d over fcr_sessions, for shop rows and scene rows alike."""
    return {"fcr_3d": (count_where(F.col("recontacted").isNull()), F.count(F.lit(1)))}


def fcr_of(flagged: DataFrame) -> DataFrame:
    return aggregate(flagged, fcr_measures())


def fcr_sessions(sessions_of_dates: DataFrame, all_sessions: DataFrame, messages: DataFrame, paid: DataFrame) -> DataFrame:
    """fcr_3d's sessions of D, `recontacted` true or null."""
    transferred = sessions_of_dates.where(~F.col("is_filtered") & F.col("transferred_to_human_at").isNotNull())
    after_sale = with_after_sale(transferred, paid).where("is_after_sale")
    received = after_sale.join(received_session_ids(after_sale, messages), "session_id", "left_semi").alias("s")
    later = (
        all_sessions.where(~is_filtered() & F.col("transferred_to_human_at").isNotNull())
        .select("shop_id", "buyer_id", "started_at")
        .alias("r")
    )
    recontact = (
        (F.col("s.shop_id") == F.col("r.shop_id"))
        & (F.col("s.buyer_id") == F.col("r.buyer_id"))
        & (F.col("r.started_at") > F.col("s.started_at"))
        & (F.col("r.started_at") <= F.col("s.started_at") + F.expr(f"INTERVAL {RECONTACT_HOURS} HOURS"))
    )
    recontacted = received.join(later, recontact, "left_semi").select("session_id").withColumn("recontacted", F.lit(True))
    return received.join(recontacted, "session_id", "left")


def after_sale_sessions(sessions_of_dates: DataFrame, paid: DataFrame) -> DataFrame:
    """Non-filtered sessions of D whose buyer is after-sale on D."""
    return with_after_sale(sessions_of_dates.where(~F.col("is_filtered")), paid).where("is_after_sale")


def after_sale_contacts(sessions_of_dates: DataFrame, after_sales: DataFrame, shops: DataFrame, paid: DataFrame, dates) -> DataFrame:
    """Per buyer-day with after-sale contact: t, the first such contact (session start or ticket creation)."""
    sessions = after_sale_sessions(sessions_of_dates, paid)
    tickets = tickets_on(after_sales, shops, "created_at", dates)
    contacts = sessions.select(*BUYER_DAY, F.col("started_at").alias("t")).unionByName(
        tickets.select(*BUYER_DAY, F.col("created_at").alias("t"))
    )
    return contacts.groupBy(*BUYER_DAY).agg(F.min("t").alias("t"))


def resolution_metrics(
    sessions_of_dates: DataFrame, after_sales: DataFrame, complaints: DataFrame, shops: DataFrame, paid: DataFrame, dates
) -> DataFrame:
    """resolution_rate_15d: after-sale contact buyers of D with no complaint row in [t, t + 360 h]."""
    return resolution_of(resolution_buyers(sessions_of_dates, after_sales, complaints, shops, paid, dates))


def resolution_measures() -> dict:
    """resolution_rate_15d over resolution_buyers, for shop rows and scene rows alike."""
    return {"resolution_rate_15d": (count_where(F.col("unresolved").isNull()), F.count(F.lit(1)))}


def resolution_of(flagged: DataFrame) -> DataFrame:
    return aggregate(flagged, resolution_measures())


def resolution_buyers(
    sessions_of_dates: DataFrame, after_sales: DataFrame, complaints: DataFrame, shops: DataFrame, paid: DataFrame, dates
) -> DataFrame:
    """resolution_rate_15d's buyer-days of D, `unresolved` true or null."""
    contacts = after_sale_contacts(sessions_of_dates, after_sales, shops, paid, dates).alias("b")
    c = complaints.select("shop_id", "buyer_id", "created_at").alias("c")
    complained = (
        (F.col("b.shop_id") == F.col("c.shop_id"))
        & (F.col("b.buyer_id") == F.col("c.buyer_id"))
        & F.col("c.created_at").between(F.col("b.t"), F.col("b.t") + F.expr(f"INTERVAL {RESOLUTION_HOURS} HOURS"))
    )
    unresolved = contacts.join(c, complained, "left_semi").select(*BUYER_DAY).withColumn("unresolved", F.lit(True))
    return contacts.join(unresolved, BUYER_DAY, "left")


# Recontacts start up to 72 h after a session of the last date; complaints come up to 360 h
# after a contact; human messages of a session may continue past the next midnight.
RECONTACT_LOOKAHEAD_DAYS = 4
COMPLAINT_LOOKAHEAD_DAYS = 16
MESSAGE_MARGIN_DAYS = 2


def _fcr(inputs: Inputs, dates: list[date]) -> dict[str, DataFrame]:
    sessions = inputs.read("sessions")
    human_messages = inputs.read("messages").where(is_human_reply())
    # Read twice (shop and scene rows): the compute job persists it.
    flagged = inputs.reuse(fcr_sessions(inputs.sessions_of_dates(dates), sessions, human_messages, inputs.paid()))
    return {METRIC_ROWS: fcr_of(flagged), SCENE_METRICS: scene_fcr(flagged, fcr_measures())}


def _resolution(inputs: Inputs, dates: list[date]) -> dict[str, DataFrame]:
    sessions, paid = inputs.sessions_of_dates(dates), inputs.paid()
    flagged = inputs.reuse(resolution_buyers(sessions, inputs.read("after_sales"), inputs.read("complaints"), inputs.shops, paid, dates))
    return {
        METRIC_ROWS: resolution_of(flagged),
        SCENE_METRICS: scene_resolution(after_sale_sessions(sessions, paid), flagged, BUYER_DAY, resolution_measures()),
    }


FCR = Family(
    "fcr",
    (Read("sessions", after=RECONTACT_LOOKAHEAD_DAYS), Read("messages", after=MESSAGE_MARGIN_DAYS), PAID_ORDERS),
    _fcr,
    conformed_sessions=True,
)
RESOLUTION = Family(
    "resolution",
    (Read("sessions"), PAID_ORDERS, Read("after_sales"), Read("complaints", after=COMPLAINT_LOOKAHEAD_DAYS)),
    _resolution,
    conformed_sessions=True,
)
