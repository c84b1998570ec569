"""Did after-sale contacts stay resolved? fcr_3d (window 3) and resolution_rate_15d (window 15)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from csmetrics.metrics.buyer_status import BUYER_DAY, with_after_sale
from csmetrics.metrics.long_format import aggregate, count_where
from csmetrics.timezones import local_date

RECONTACT_HOURS = 72
RESOLUTION_HOURS = 360


def received_session_ids(transferred: DataFrame, messages: DataFrame) -> DataFrame:
    """session_id of the transferred sessions with a human message at or after the transfer."""
    last_human = (
        messages.where(F.col("sender_role") == "human").groupBy("session_id").agg(F.max("sent_at").alias("last_human_at"))
    )
    return (
        transferred.join(last_human, "session_id")
        .where(F.col("last_human_at") >= F.col("transferred_to_human_at"))
        .select("session_id")
    )


def fcr_metrics(sessions_of_dates: DataFrame, all_sessions: DataFrame, messages: DataFrame, paid: DataFrame) -> DataFrame:
    """fcr_3d: after-sale buyers' received sessions of D without a human recontact in (start, start + 72 h]."""
    transferred = sessions_of_dates.where(~F.col("is_filtered") & F.col("transferred_to_human_at").isNotNull())
    after_sale = with_after_sale(transferred, paid).where("is_after_sale")
    received = after_sale.join(received_session_ids(after_sale, messages), "session_id", "left_semi").alias("s")
    later = (
        all_sessions.where(~(F.col("is_internal") | F.col("is_spam")) & F.col("transferred_to_human_at").isNotNull())
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
    flagged = received.join(recontacted, "session_id", "left")
    return aggregate(flagged, {"fcr_3d": (count_where(F.col("recontacted").isNull()), F.count(F.lit(1)))})


def after_sale_contacts(sessions_of_dates: DataFrame, after_sales: DataFrame, shops: DataFrame, paid: DataFrame, dates) -> DataFrame:
    """Per buyer-day with after-sale contact: t, the first such contact (session start or ticket creation)."""
    sessions = with_after_sale(sessions_of_dates.where(~F.col("is_filtered")), paid).where("is_after_sale")
    zones = F.broadcast(shops.select("shop_id", "timezone"))
    tickets = (
        after_sales.join(zones, "shop_id")
        .withColumn("stat_date", local_date(F.col("created_at"), F.col("timezone")))
        .where(F.col("stat_date").isin(dates))
    )
    contacts = sessions.select(*BUYER_DAY, F.col("started_at").alias("t")).unionByName(
        tickets.select(*BUYER_DAY, F.col("created_at").alias("t"))
    )
    return contacts.groupBy(*BUYER_DAY).agg(F.min("t").alias("t"))


def resolution_metrics(
    sessions_of_dates: DataFrame, after_sales: DataFrame, complaints: DataFrame, shops: DataFrame, paid: DataFrame, dates
) -> DataFrame:
    """resolution_rate_15d: after-sale contact buyers of D with no complaint row in [t, t + 360 h]."""
    contacts = after_sale_contacts(sessions_of_dates, after_sales, shops, paid, dates).alias("b")
    c = complaints.select("shop_id", "buyer_id", "created_at").alias("c")
    complained = (
        (F.col("b.shop_id") == F.col("c.shop_id"))
        & (F.col("b.buyer_id") == F.col("c.buyer_id"))
        & F.col("c.created_at").between(F.col("b.t"), F.col("b.t") + F.expr(f"INTERVAL {RESOLUTION_HOURS} HOURS"))
    )
    unresolved = contacts.join(c, complained, "left_semi").select(*BUYER_DAY).withColumn("unresolved", F.lit(True))
    flagged = contacts.join(unresolved, BUYER_DAY, "left")
    return aggregate(
        flagged, {"resolution_rate_15d": (count_where(F.col("unresolved").isNull()), F.count(F.lit(1)))}
    )
