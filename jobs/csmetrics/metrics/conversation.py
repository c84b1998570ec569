"""Conversation metrics of SPEC §4 (window 1 day), at shop and agent grain.

The chain, each step a pure transform:
  sessions_of_dates       (csmetrics.conformed) sessions with local stat_date, filtered flag
  session_messages        messages of those sessions, with session context
  message_features        per message, one window pass: next human reply, round start,
                          attributed agent, 3-minute flags
  session_agent_partials  per (session, attributed agent): every sum the metrics need
  then message_metrics (messages and rounds, per attributed agent), session_facts ->
  session_metrics and buyer_metrics, each over both grains.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from csmetrics.conformed import is_human_reply, is_reply_after_transfer, is_valid_reply, sessions_of_dates
from csmetrics.metrics.buyer_status import PAID_ORDERS, with_after_sale
from csmetrics.metrics.family import METRIC_ROWS, Family, Inputs, Read
from csmetrics.metrics.long_format import UNASSIGNED, aggregate_both_grains, count_where
from csmetrics.metrics.scenes import SCENE_METRICS, scene_sessions
from csmetrics.metrics.session_detail import SESSION_DETAIL, session_detail
from csmetrics.timezones import local_instant, seconds_between

REPLY_LIMIT_SECONDS = 180


# What the caller does with a frame several aggregations read (the compute job persists it).
Reuse = Callable[[DataFrame], DataFrame]


def as_is(frame: DataFrame) -> DataFrame:
    """The `reuse` of a caller that does not persist anything (tests, one-off reads)."""
    return frame


def session_messages(messages: DataFrame, sessions: DataFrame, business_start: time, business_end: time) -> DataFrame:
    """Messages of non-filtered sessions with their session's date, shop and last agent, and
    the per-message flags the metrics read. Business hours are converted to UTC bounds once
    per session, not once per message."""
    context = sessions.where(~F.col("is_filtered")).select(
        "session_id",
        "shop_id",
        "stat_date",
        "transferred_to_human_at",
        "last_agent_id",
        local_instant(F.col("stat_date"), business_start, F.col("timezone")).alias("business_from"),
        local_instant(F.col("stat_date"), business_end, F.col("timezone")).alias("business_until"),
    )
    sent_at, role = F.col("sent_at"), F.col("sender_role")
    hp_buyer = (role == "buyer") & F.col("transferred_to_human_at").isNotNull() & (sent_at >= F.col("transferred_to_human_at"))
    return (
        # A shuffled hash join: the message window below sorts each session's messages
        # anyway, so a sort-merge join would sort every message twice.
        messages.drop("shop_id")
        .join(context.hint("shuffle_hash"), "session_id")
        .select(
            "session_id",
            "message_id",
            "agent_id",
            "sent_at",
            "stat_date",
            "shop_id",
            "last_agent_id",
            F.unix_micros(sent_at).alias("sent_us"),
            (role == "buyer").alias("is_buyer"),
            # A human reply: an auto-reply from an agent's account is not one (SPEC §3).
            is_human_reply().alias("is_human"),
            (role == "bot").alias("is_bot"),
            (role == "system").alias("is_system"),
            hp_buyer.alias("is_human_phase_buyer"),
            (hp_buyer & (sent_at >= F.col("business_from")) & (sent_at < F.col("business_until"))).alias("is_counted_3min"),
            is_reply_after_transfer().alias("is_human_after_transfer"),
            is_valid_reply().alias("is_valid_reply"),
        )
    )


def message_features(messages: DataFrame) -> DataFrame:
    """Per message, from one sort of each session's messages: whether it opens a round or is
    the session's first human-phase buyer message, its next human reply (the earliest human
    message at or after it), the agent it is attributed to and the 3-minute flags; and per
    session, its last buyer message and whether a valid reply follows it."""
    session = Window.partitionBy("session_id")
    in_order = session.orderBy("sent_us", "message_id")
    before = in_order.rowsBetween(Window.unboundedPreceding, -1)
    whole = in_order.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    # Ordered by sent_us alone, so that a human message sent in the same microsecond is
    # "at or after", whatever its message_id. The sort of the windows above serves it too.
    earlier_in_time = session.orderBy("sent_us").rangeBetween(Window.unboundedPreceding, -1)
    hp_buyer, human = F.col("is_human_phase_buyer"), F.col("is_human")
    position = F.struct("sent_us", "message_id")
    # All window expressions in one select: Spark then evaluates them in one pass per
    # ordering over the sorted messages.
    windowed = messages.select(
        "*",
        # A round (SPEC §3) starts at a human-phase buyer message when, among the buyer and
        # human messages before it, the latest is a human one, or there is none.
        F.last(F.when(hp_buyer | human, human), ignorenulls=True).over(before).alias("_previous_is_human"),
        F.max(hp_buyer.cast("int")).over(before).alias("_earlier_hp_buyers"),
        F.max(F.when(F.col("is_buyer"), position)).over(whole).alias("_last_buyer"),
        F.max(F.when(F.col("is_valid_reply"), position)).over(whole).alias("_last_reply"),
        # The next human reply is the session's first human message not sent before this
        # one: its human messages in order, indexed by how many were sent strictly earlier.
        # (A minimum over the following rows would cost quadratic time per session.)
        F.collect_list(F.when(human, F.struct("sent_at", "agent_id"))).over(whole).alias("_humans"),
        F.count(F.when(human, True)).over(earlier_in_time).cast("int").alias("_humans_earlier"),
    )
    next_reply = F.try_element_at(F.col("_humans"), F.col("_humans_earlier") + 1)
    response = F.when(hp_buyer, seconds_between(next_reply["sent_at"], F.col("sent_at")))
    return windowed.select(
        "session_id",
        "message_id",
        "sent_at",
        "stat_date",
        "shop_id",
        "is_buyer",
        "is_human",
        "is_bot",
        "is_system",
        "is_human_phase_buyer",
        "is_counted_3min",
        "is_human_after_transfer",
        (hp_buyer & F.coalesce(F.col("_previous_is_human"), F.lit(True))).alias("opens_round"),
        (hp_buyer & F.coalesce(F.col("_earlier_hp_buyers"), F.lit(0)).eqNullSafe(0)).alias("is_first_hp_buyer"),
        F.col("_last_buyer.sent_us").alias("last_buyer_us"),
        F.col("_last_buyer.message_id").alias("last_buyer_id"),
        F.coalesce(F.col("_last_reply") > F.col("_last_buyer"), F.lit(False)).alias("buyer_replied"),
        response.alias("response_s"),
        (F.col("is_counted_3min") & (response <= REPLY_LIMIT_SECONDS)).alias("replied_3min"),
        F.when(human, attributed_agent(F.col("agent_id"), F.col("last_agent_id")))
        .otherwise(attributed_agent(next_reply["agent_id"], F.col("last_agent_id")))
        .alias("attributed_agent"),
    )


def attributed_agent(*candidates: Column) -> Column:
    return F.coalesce(*candidates, F.lit(UNASSIGNED))


# Per session, the same on every message of it: grouped by, not aggregated, so that the
# aggregation buffers stay numeric and Spark aggregates by hash without sorting.
SESSION_CONSTANTS = ["session_id", "stat_date", "shop_id", "last_buyer_us", "last_buyer_id", "buyer_replied"]


def session_agent_partials(features: DataFrame) -> DataFrame:
    """Per (session, attributed agent): the sums the message, round and session metrics need.

    Every later aggregation starts from these few rows per session instead of the messages.
    """
    hp_buyer, human = F.col("is_human_phase_buyer"), F.col("is_human")
    replied = hp_buyer & F.col("response_s").isNotNull()
    round_replied = F.col("opens_round") & F.col("response_s").isNotNull()
    round_slow = F.col("opens_round") & (F.col("response_s").isNull() | (F.col("response_s") > REPLY_LIMIT_SECONDS))
    return features.groupBy(*SESSION_CONSTANTS, "attributed_agent").agg(
        count_where(F.col("replied_3min")).alias("replied_3min"),
        count_where(F.col("is_counted_3min")).alias("counted_3min"),
        count_where(F.col("is_counted_3min") & F.col("response_s").isNull()).alias("unreplied_3min"),
        F.sum(F.when(replied, F.col("response_s"))).alias("response_sum"),
        count_where(replied).alias("replied_messages"),
        count_where(F.col("is_buyer")).alias("buyer_messages"),
        count_where(human).alias("human_messages"),
        count_where(F.col("is_bot")).alias("bot_messages"),
        count_where(F.col("is_system")).alias("system_messages"),
        count_where(hp_buyer).alias("hp_buyer_messages"),
        F.sum(F.when(round_replied, F.col("response_s"))).alias("round_response_sum"),
        count_where(round_replied).alias("replied_rounds"),
        count_where(round_slow).alias("slow_rounds"),
        F.max("is_human_after_transfer").alias("has_human_reply"),
        F.max(F.when(F.col("is_first_hp_buyer"), F.col("response_s"))).alias("first_response_s"),
    )


def message_metrics(partials: DataFrame) -> DataFrame:
    """Message and round metrics, attributed to the agent of each message's next human reply."""
    return aggregate_both_grains(
        partials,
        F.col("attributed_agent"),
        {
            "reply_3min_rate": (F.sum("replied_3min"), F.sum("counted_3min")),
            "avg_response_seconds": (F.sum("response_sum"), F.sum("replied_messages")),
            "answer_question_ratio": (F.sum("human_messages"), F.sum("hp_buyer_messages")),
            "avg_round_response_seconds": (F.sum("round_response_sum"), F.sum("replied_rounds")),
            "slow_rounds": (F.sum("slow_rounds"), None),
        },
    )


def session_facts(partials: DataFrame) -> DataFrame:
    """Per session: picked up, first response, the 3-minute session score, last buyer message."""
    return partials.groupBy(*SESSION_CONSTANTS).agg(
        F.max("has_human_reply").alias("has_human_reply"),
        F.max("first_response_s").alias("first_response_s"),
        F.sum("counted_3min").alias("counted_3min"),
        F.sum("replied_3min").alias("replied_3min"),
    ).drop("stat_date", "shop_id")


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


def buyer_metrics(sessions: DataFrame, facts: DataFrame) -> DataFrame:
    """reply_rate: is each buyer's last message of the day followed by a valid reply in its session?"""
    kept = sessions.where(~F.col("is_filtered")).join(facts, "session_id", "left")
    # The buyer's decisive session: the one holding their last buyer message of the day
    # (sessions without a buyer message sort first: null fields compare lowest).
    latest = F.max(F.struct("last_buyer_us", "last_buyer_id", "started_at", "session_id", "buyer_replied", "last_agent_id"))
    buyers = kept.groupBy("stat_date", "shop_id", "buyer_id").agg(latest.alias("d"))
    replied = F.col("d.last_buyer_us").isNotNull() & F.col("d.buyer_replied")
    return aggregate_both_grains(
        buyers,
        attributed_agent(F.col("d.last_agent_id")),
        {"reply_rate": (count_where(replied), F.count(F.lit(1)))},
    )


def conversation_frames(
    sessions: DataFrame,
    messages: DataFrame,
    shops: DataFrame,
    dates: list[date],
    business_start: time = time(8),
    business_end: time = time(23),
    reuse: Reuse = as_is,
) -> tuple[DataFrame, DataFrame]:
    """The sessions of `dates` and their per-(session, agent) partials: what both the metrics
    and the session detail are computed from.

    `reuse` receives both frames, which several aggregations read; the compute job persists
    them so that the message window runs once, instead of once per aggregation.
    """
    of_dates = reuse(sessions_of_dates(sessions, shops, dates))
    return of_dates, partials_of(of_dates, messages, business_start, business_end, reuse)


def partials_of(of_dates: DataFrame, messages: DataFrame, business_start: time, business_end: time, reuse: Reuse) -> DataFrame:
    """The per-(session, agent) partials of the conformed sessions `of_dates`."""
    return reuse(session_agent_partials(message_features(session_messages(messages, of_dates, business_start, business_end))))


def metrics_of(of_dates: DataFrame, partials: DataFrame) -> DataFrame:
    """All conversation metrics: long rows at shop (agent_id null) and agent grain."""
    facts = session_facts(partials)
    return (
        session_metrics(of_dates, facts)
        .unionByName(message_metrics(partials))
        .unionByName(buyer_metrics(of_dates, facts))
    )


def conversation_metrics(sessions: DataFrame, messages: DataFrame, shops: DataFrame, dates: list[date], **options) -> DataFrame:
    """All conversation metrics for `dates` (`options`: those of `conversation_frames`)."""
    return metrics_of(*conversation_frames(sessions, messages, shops, dates, **options))


# A session's messages may continue past the next midnight; its rating card goes out when
# it ends, and the detail shows a rating given by the end of the next local day.
MESSAGE_MARGIN_DAYS = 2


def _compute(inputs: Inputs, dates: list[date]) -> dict[str, DataFrame]:
    of_dates = inputs.sessions_of_dates(dates)
    partials = partials_of(of_dates, inputs.read("messages"), inputs.business_start, inputs.business_end, inputs.reuse)
    return {
        METRIC_ROWS: metrics_of(of_dates, partials),
        SESSION_DETAIL: session_detail(of_dates, partials, inputs.business_start, inputs.business_end, inputs.read("ratings")),
        SCENE_METRICS: scene_sessions(with_after_sale(of_dates, inputs.paid())),
    }


FAMILY = Family(
    "conversation",
    (Read("sessions"), Read("messages", after=MESSAGE_MARGIN_DAYS), Read("ratings", after=MESSAGE_MARGIN_DAYS), PAID_ORDERS),
    _compute,
    conformed_sessions=True,
)
