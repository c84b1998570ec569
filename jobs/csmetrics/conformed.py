"""Conformed inputs: bronze rows with the meanings every metric family and gate shares.

Each definition lives here once (SPEC §1, §3):
  with_shop_zone        a record with its shop's timezone
  with_local_date       a record's date in its shop's timezone
  is_filtered           an internal or spam session
  sessions_of_dates     sessions with their local stat_date and filtered flag
  is_human_reply        a human agent's message that is a reply (not an auto-reply)
  is_valid_reply        a human's or bot's message that is a reply (not an auto-reply)
  received_session_ids  transferred sessions a human answered at or after the transfer
  paid_days             the local dates on which a buyer paid at a shop
  tickets_on            after-sale tickets by the local date of one of their instants
Metric modules and the gold gate read these; no gate imports a metric module.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from csmetrics.timezones import local_date


def with_shop_zone(frame: DataFrame, shops: DataFrame) -> DataFrame:
    """`frame` with its shop's `timezone`. Rows of shops without a snapshot row drop out
    (their timezone is unknown). The shop snapshot is small: it is broadcast."""
    return frame.join(F.broadcast(shops.select("shop_id", "timezone")), "shop_id")


def with_local_date(frame: DataFrame, shops: DataFrame, instant: str, name: str = "stat_date") -> DataFrame:
    """`frame` with its shop's `timezone` and `name`, the local date of the UTC `instant`."""
    return with_shop_zone(frame, shops).withColumn(name, local_date(F.col(instant), F.col("timezone")))


def is_filtered() -> Column:
    """A filtered session (SPEC §3): internal or spam. It counts only in filtered_sessions."""
    return F.col("is_internal") | F.col("is_spam")


def sessions_of_dates(sessions: DataFrame, shops: DataFrame, dates: list[date]) -> DataFrame:
    """Sessions whose start falls on one of `dates` in the shop's timezone, with `stat_date`,
    `timezone` and `is_filtered`."""
    return (
        with_local_date(sessions, shops, "started_at")
        .where(F.col("stat_date").isin(dates))
        .withColumn("is_filtered", is_filtered())
    )


def is_auto_reply() -> Column:
    return F.col("msg_type") == "auto_reply"


def is_human_reply() -> Column:
    """A human reply (人工回复, SPEC §3): sent by a human agent and not an auto-reply. An
    auto-reply an agent configured comes from the agent's account (`sender_role = human`)
    and is still not a reply: it neither answers a buyer message nor ends a round, and it
    counts in no received session or answer ratio. Reads `sender_role` and `msg_type`."""
    return (F.col("sender_role") == "human") & ~is_auto_reply()


def is_valid_reply() -> Column:
    """A valid reply (reply_rate, SPEC §3): a human's or the bot's message, not an auto-reply."""
    return F.col("sender_role").isin("human", "bot") & ~is_auto_reply()


def is_reply_after_transfer() -> Column:
    """A message that makes its transferred session received: a human reply at or after the
    transfer (on a row carrying the message's `sender_role`, `msg_type`, `sent_at` and the
    session's `transferred_to_human_at`)."""
    return is_human_reply() & (F.col("sent_at") >= F.col("transferred_to_human_at"))


def received_session_ids(transferred: DataFrame, messages: DataFrame) -> DataFrame:
    """session_id of the `transferred` sessions that are received: some message of theirs
    satisfies `is_reply_after_transfer`."""
    return (
        transferred.select("session_id", "transferred_to_human_at")
        .join(messages.select("session_id", "sender_role", "msg_type", "sent_at"), "session_id")
        .where(is_reply_after_transfer())
        .select("session_id")
        .distinct()
    )


def paid_days(orders: DataFrame, shops: DataFrame) -> DataFrame:
    """Distinct (shop_id, buyer_id, paid_date): local dates on which a buyer paid an order at a shop."""
    return (
        with_local_date(orders.where(F.col("paid_at").isNotNull()), shops, "paid_at", "paid_date")
        .select("shop_id", "buyer_id", "paid_date")
        .distinct()
    )


def tickets_on(after_sales: DataFrame, shops: DataFrame, instant: str, dates: list[date]) -> DataFrame:
    """After-sale tickets whose `instant` (created_at, closed_at) falls on one of `dates` in
    the shop's timezone, with `stat_date`; tickets without that instant drop out."""
    return (
        with_local_date(after_sales.where(F.col(instant).isNotNull()), shops, instant)
        .where(F.col("stat_date").isin(dates))
    )
