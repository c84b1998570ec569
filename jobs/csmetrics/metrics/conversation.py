"""Conversation metrics of SPEC §4 (window 1 day), at shop and agent grain.

The chain, each step a pure transform:
  sessions_of_dates      sessions with their shop's local stat_date, filtered flag
  session_messages       messages of those sessions, with session context
  with_next_human_reply  per message: the earliest human message at or after it
  with_rounds            per human-phase buyer message: its round within the session
  then four aggregations (sessions, messages, rounds, buyers), each over both grains.
"""

from __future__ import annotations

from datetime import date, time

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from csmetrics.metrics.long_format import UNASSIGNED, aggregate_both_grains, count_where
from csmetrics.timezones import local_date, seconds_between, within_local_hours

REPLY_LIMIT_SECONDS = 180


def sessions_of_dates(sessions: DataFrame, shops: DataFrame, dates: list[date]) -> DataFrame:
    """Sessions whose start falls on one of `dates` in the shop's timezone."""
    zones = shops.select("shop_id", "timezone")
    return (
        sessions.join(F.broadcast(zones), "shop_id")
        .withColumn("stat_date", local_date(F.col("started_at"), F.col("timezone")))
        .where(F.col("stat_date").isin(dates))
        .withColumn("is_filtered", F.col("is_internal") | F.col("is_spam"))
    )


def session_messages(messages: DataFrame, sessions: DataFrame) -> DataFrame:
    """Messages of non-filtered sessions, with the session's date, zone, transfer and agent."""
    context = sessions.where(~F.col("is_filtered")).select(
        "session_id", "shop_id", "buyer_id", "stat_date", "timezone", "transferred_to_human_at", "last_agent_id"
    )
    return (
        messages.drop("shop_id")
        .join(context, "session_id")
        .withColumn("sent_us", F.unix_micros("sent_at"))
        .withColumn(
            "is_human_phase_buyer",
            (F.col("sender_role") == "buyer")
            & F.col("transferred_to_human_at").isNotNull()
            & (F.col("sent_at") >= F.col("transferred_to_human_at")),
        )
        .withColumn("is_human", F.col("sender_role") == "human")
    )


def with_next_human_reply(messages: DataFrame) -> DataFrame:
    """Add next_reply_at / next_reply_agent: the earliest human message sent at or after each message."""
    at_or_after = Window.partitionBy("session_id").orderBy("sent_us").rangeBetween(0, Window.unboundedFollowing)
    human = F.when(F.col("is_human"), F.struct("sent_us", "message_id", "agent_id", "sent_at"))
    nxt = F.min(human).over(at_or_after)
    return messages.withColumn("_next", nxt).withColumn("next_reply_at", F.col("_next.sent_at")).withColumn(
        "next_reply_agent", F.col("_next.agent_id")
    ).drop("_next")


def with_rounds(messages: DataFrame) -> DataFrame:
    """Number each human-phase buyer message's round: human messages seen before it, in order."""
    in_order = Window.partitionBy("session_id").orderBy("sent_us", "message_id").rowsBetween(
        Window.unboundedPreceding, Window.currentRow
    )
    return messages.withColumn("round_no", F.sum(F.col("is_human").cast("int")).over(in_order))


def attributed_agent(*candidates: Column) -> Column:
    return F.coalesce(*candidates, F.lit(UNASSIGNED))


def message_features(messages: DataFrame, business_start: time, business_end: time) -> DataFrame:
    """Per-message facts the message, round and session aggregations share."""
    response = seconds_between(F.col("next_reply_at"), F.col("sent_at"))
    counted = F.col("is_human_phase_buyer") & within_local_hours(
        F.col("sent_at"), F.col("timezone"), F.col("stat_date"), business_start, business_end
    )
    return (
        messages.transform(with_next_human_reply)
        .transform(with_rounds)
        .withColumn("response_s", F.when(F.col("is_human_phase_buyer"), response))
        .withColumn("is_counted_3min", counted)
        .withColumn("replied_3min", counted & (response <= REPLY_LIMIT_SECONDS))
    )


def message_metrics(features: DataFrame) -> DataFrame:
    agent = F.when(
        F.col("is_human"), attributed_agent(F.col("agent_id"), F.col("last_agent_id"))
    ).otherwise(attributed_agent(F.col("next_reply_agent"), F.col("last_agent_id")))
    hp_buyer = F.col("is_human_phase_buyer")
    replied = hp_buyer & F.col("response_s").isNotNull()
    return aggregate_both_grains(
        features.where(hp_buyer | F.col("is_human")),
        agent,
        {
            "reply_3min_rate": (count_where(F.col("replied_3min")), count_where(F.col("is_counted_3min"))),
            "avg_response_seconds": (F.sum(F.when(replied, F.col("response_s"))), count_where(replied)),
            "answer_question_ratio": (count_where(F.col("is_human")), count_where(hp_buyer)),
        },
    )


def rounds(features: DataFrame) -> DataFrame:
    """One row per human-phase round: its first buyer message and the response to it."""
    first = F.min(F.struct("sent_us", "message_id", "response_s", "next_reply_agent"))
    return (
        features.where("is_human_phase_buyer")
        .groupBy("session_id", "round_no", "stat_date", "shop_id", "last_agent_id")
        .agg(first.alias("first"))
        .select("*", F.col("first.response_s").alias("response_s"), F.col("first.next_reply_agent").alias("reply_agent"))
    )


def round_metrics(round_rows: DataFrame) -> DataFrame:
    replied = F.col("response_s").isNotNull()
    slow = ~replied | (F.col("response_s") > REPLY_LIMIT_SECONDS)
    return aggregate_both_grains(
        round_rows,
        attributed_agent(F.col("reply_agent"), F.col("last_agent_id")),
        {
            "avg_round_response_seconds": (F.sum(F.when(replied, F.col("response_s"))), count_where(replied)),
            "slow_rounds": (count_where(slow), None),
        },
    )


def session_facts(features: DataFrame) -> DataFrame:
    """Per session: picked up, first response, and the 3-minute session score."""
    first_hp_buyer = F.min(F.when(F.col("is_human_phase_buyer"), F.struct("sent_us", "message_id", "response_s")))
    return features.groupBy("session_id").agg(
        F.max(F.col("is_human") & (F.col("sent_at") >= F.col("transferred_to_human_at"))).alias("has_human_reply"),
        first_hp_buyer["response_s"].alias("first_response_s"),
        count_where(F.col("is_counted_3min")).alias("counted_3min"),
        count_where(F.col("replied_3min")).alias("replied_3min"),
    )


def session_metrics(sessions: DataFrame, facts: DataFrame) -> DataFrame:
    s = sessions.join(facts, "session_id", "left")
    kept = ~F.col("is_filtered")
    transferred = kept & F.col("transferred_to_human_at").isNotNull()
    received = transferred & F.coalesce(F.col("has_human_reply"), F.lit(False))
    queued = kept & F.col("queue_entered_at").isNotNull() & F.col("assigned_at").isNotNull()
    ended = received & F.col("ended_at").isNotNull()
    first = received & F.col("first_response_s").isNotNull()
    scored = kept & (F.coalesce(F.col("counted_3min"), F.lit(0)) > 0)
    return aggregate_both_grains(
        s,
        attributed_agent(F.col("last_agent_id")),
        {
            "consult_sessions": (count_where(kept), None),
            "consult_buyers": (F.count_distinct(F.when(kept, F.col("buyer_id"))), None),
            "filtered_sessions": (count_where(F.col("is_filtered")), None),
            "transfer_sessions": (count_where(transferred), None),
            "received_sessions": (count_where(received), None),
            "pickup_rate": (count_where(received), count_where(transferred)),
            "avg_wait_seconds": (
                F.sum(F.when(queued, seconds_between(F.col("assigned_at"), F.col("queue_entered_at")))),
                count_where(queued),
            ),
            "avg_reception_seconds": (
                F.sum(F.when(ended, seconds_between(F.col("ended_at"), F.col("transferred_to_human_at")))),
                count_where(ended),
            ),
            "first_response_seconds": (F.sum(F.when(first, F.col("first_response_s"))), count_where(first)),
            "reply_3min_session_rate": (
                count_where(scored & (F.col("replied_3min") == F.col("counted_3min"))),
                count_where(scored),
            ),
        },
    )


def buyer_metrics(sessions: DataFrame, features: DataFrame) -> DataFrame:
    """reply_rate: is each buyer's last message of the day followed by a valid reply in its session?"""
    valid_reply = F.col("sender_role").isin("human", "bot") & (F.col("msg_type") != "auto_reply")
    position = F.struct("sent_us", "message_id")
    per_session = features.groupBy("session_id").agg(
        F.max(F.when(F.col("sender_role") == "buyer", position)).alias("last_buyer"),
        F.max(F.when(valid_reply, position)).alias("last_reply"),
    )
    kept = sessions.where(~F.col("is_filtered")).join(per_session, "session_id", "left")
    # The buyer's decisive session: the one holding their last buyer message of the day.
    latest = F.max(F.struct(F.col("last_buyer"), F.col("started_at"), F.col("session_id"), F.col("last_reply"), F.col("last_agent_id")))
    buyers = kept.groupBy("stat_date", "shop_id", "buyer_id").agg(latest.alias("d"))
    replied = F.col("d.last_buyer").isNotNull() & (F.col("d.last_reply") > F.col("d.last_buyer"))
    return aggregate_both_grains(
        buyers,
        attributed_agent(F.col("d.last_agent_id")),
        {"reply_rate": (count_where(replied), F.count(F.lit(1)))},
    )


def conversation_metrics(
    sessions: DataFrame,
    messages: DataFrame,
    shops: DataFrame,
    dates: list[date],
    business_start: time = time(8),
    business_end: time = time(23),
) -> DataFrame:
    """All conversation metrics for `dates`: long rows at shop (agent_id null) and agent grain."""
    of_dates = sessions_of_dates(sessions, shops, dates)
    features = message_features(session_messages(messages, of_dates), business_start, business_end)
    return (
        session_metrics(of_dates, session_facts(features))
        .unionByName(message_metrics(features))
        .unionByName(round_metrics(rounds(features)))
        .unionByName(buyer_metrics(of_dates, features))
    )

