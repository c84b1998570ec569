"""Session detail: one row per session of a date, the drill-down of the conversation metrics.

Built from the same per-(session, agent) partials as the metrics (csmetrics.metrics.conversation),
so that summing the detail rows of a shop-day gives the shop's count, numerator or denominator
of every conversation metric (docs/metrics.md, "Session detail"):

  consult_sessions            rows not filtered            filtered_sessions   rows filtered
  transfer_sessions           Σ is_transferred             received_sessions   Σ is_received
  consult_buyers              Σ decides_reply_rate (one session per buyer and day)
  reply_rate                  Σ (decides_reply_rate and buyer_replied) / Σ decides_reply_rate
  reply_3min_rate             Σ replied_3min_messages / Σ counted_3min_messages
  reply_3min_session_rate     Σ reply_3min_session / rows where it is not null
  avg_response_seconds        Σ response_seconds_sum / Σ replied_messages
  avg_round_response_seconds  Σ round_response_seconds_sum / Σ replied_rounds
  slow_rounds                 Σ slow_rounds
  first_response_seconds      Σ first_response_seconds / rows where it is not null
  avg_wait_seconds            Σ wait_seconds / rows where it is not null
  avg_reception_seconds       Σ reception_seconds / rows where it is not null
  answer_question_ratio       Σ human_messages / Σ human_phase_buyer_messages
"""

from __future__ import annotations

from datetime import date, datetime, time

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from csmetrics import DEFINITION_VERSION, registry
from csmetrics.metrics.long_format import UNASSIGNED
from csmetrics.timezones import local_day_end, local_instant, seconds_between

# The gold table (csmetrics.tables) and the name the conversation family keeps it under.
SESSION_DETAIL = "session_detail_daily"
# A session's row is final when the conversation metrics of its date are: the inputs are
# the same.
WINDOW_DAYS = max(m.window_days for m in registry.metrics("conversation"))
# The metric whose (date, metric) slice decides a date's detail: final with it, published with it.
FINAL_WITH = "consult_sessions"

SUMS = (
    "buyer_messages", "human_messages", "bot_messages", "system_messages", "human_phase_buyer_messages",
    "counted_3min_messages", "replied_3min_messages", "unreplied_3min_messages",
    "response_seconds_sum", "replied_messages", "round_response_seconds_sum", "replied_rounds", "slow_rounds",
)


def _per_session(partials: DataFrame) -> DataFrame:
    """The partials of each session summed over its attributed agents."""
    return partials.groupBy("session_id").agg(
        F.sum("buyer_messages").alias("buyer_messages"),
        F.sum("human_messages").alias("human_messages"),
        F.sum("bot_messages").alias("bot_messages"),
        F.sum("system_messages").alias("system_messages"),
        F.sum("hp_buyer_messages").alias("human_phase_buyer_messages"),
        F.sum("counted_3min").alias("counted_3min_messages"),
        F.sum("replied_3min").alias("replied_3min_messages"),
        F.sum("unreplied_3min").alias("unreplied_3min_messages"),
        F.sum("response_sum").alias("response_seconds_sum"),
        F.sum("replied_messages").alias("replied_messages"),
        F.sum("round_response_sum").alias("round_response_seconds_sum"),
        F.sum("replied_rounds").alias("replied_rounds"),
        F.sum("slow_rounds").alias("slow_rounds"),
        F.max("has_human_reply").alias("has_human_reply"),
        F.max("first_response_s").alias("first_response_s"),
        F.max("buyer_replied").alias("buyer_replied"),
        F.max(F.struct("last_buyer_us", "last_buyer_id")).alias("last_buyer"),
        F.array_sort(F.collect_set(F.when(F.col("attributed_agent") != UNASSIGNED, F.col("attributed_agent")))).alias("agent_ids"),
    )


def session_ratings(ratings: DataFrame, sessions: DataFrame) -> DataFrame:
    """session_id -> rating_score: the score of the session's rating given by the end of the
    session's local date + WINDOW_DAYS, when the row becomes final (the latest if several)."""
    return (
        ratings.drop("shop_id")
        .join(sessions.select("session_id", "stat_date", "timezone"), "session_id")
        .where(F.col("rated_at") < local_day_end(F.col("stat_date"), F.col("timezone"), WINDOW_DAYS))
        .groupBy("session_id")
        .agg(F.max_by("score", F.struct("rated_at", "rating_id")).alias("rating_score"))
    )


def session_detail(
    sessions: DataFrame, partials: DataFrame, business_start: time, business_end: time, ratings: DataFrame | None = None
) -> DataFrame:
    """One row per session of `sessions` (the output of `sessions_of_dates`, filtered ones
    included and flagged) with what the conversation metrics counted in it, and its rating
    when `ratings` are given."""
    s = sessions.join(_per_session(partials), "session_id", "left")
    if ratings is not None:
        s = s.join(session_ratings(ratings, sessions), "session_id", "left")
    else:
        s = s.withColumn("rating_score", F.lit(None).cast("int"))
    kept = ~F.col("is_filtered")
    transferred = kept & F.col("transferred_to_human_at").isNotNull()
    received = transferred & F.coalesce(F.col("has_human_reply"), F.lit(False))
    counted = F.coalesce(F.col("counted_3min_messages"), F.lit(0))
    in_business_hours = (F.col("transferred_to_human_at") >= local_instant(F.col("stat_date"), business_start, F.col("timezone"))) & (
        F.col("transferred_to_human_at") < local_instant(F.col("stat_date"), business_end, F.col("timezone"))
    )
    # reply_rate's unit is the buyer: the session holding the buyer's last message of the day
    # decides (sessions without a buyer message sort first), as in conversation.buyer_metrics.
    buyer_day = Window.partitionBy("stat_date", "shop_id", "buyer_id")
    decisive = F.max(F.when(kept, F.struct("last_buyer.last_buyer_us", "last_buyer.last_buyer_id", "started_at", "session_id"))).over(buyer_day)
    return s.select(
        "stat_date",
        "shop_id",
        "timezone",
        "session_id",
        "buyer_id",
        "last_agent_id",
        F.coalesce(F.col("agent_ids"), F.array().cast("array<string>")).alias("agent_ids"),
        "started_at",
        "ended_at",
        seconds_between(F.col("ended_at"), F.col("started_at")).alias("duration_seconds"),
        "transferred_to_human_at",
        "scene_l1",
        "scene_l2",
        "scene_l3",
        "rating_score",
        "is_filtered",
        transferred.alias("is_transferred"),
        received.alias("is_received"),
        # Sent to a human in business hours and never assigned to one: the sessions Douyin's
        # experience score counts as failing the 3-minute rule.
        (transferred & in_business_hours & F.col("assigned_at").isNull()).alias("unassigned_in_business_hours"),
        *[F.when(kept, F.coalesce(F.col(c), F.lit(0))).alias(c) for c in SUMS],
        F.when(kept & (counted > 0), (F.col("replied_3min_messages") == counted).cast("int")).alias("reply_3min_session"),
        F.when(received, F.col("first_response_s")).alias("first_response_seconds"),
        F.when(kept & F.col("queue_entered_at").isNotNull() & F.col("assigned_at").isNotNull(),
               seconds_between(F.col("assigned_at"), F.col("queue_entered_at"))).alias("wait_seconds"),
        F.when(received & F.col("ended_at").isNotNull(),
               seconds_between(F.col("ended_at"), F.col("transferred_to_human_at"))).alias("reception_seconds"),
        (kept & (decisive["session_id"] == F.col("session_id"))).alias("decides_reply_rate"),
        (kept & F.coalesce(F.col("buyer_replied") & F.col("last_buyer.last_buyer_us").isNotNull(), F.lit(False))).alias("buyer_replied"),
    )


def finish_detail(detail: DataFrame, run_date: date, run_id: str, computed_at: datetime, kept_final: list[date] = ()) -> DataFrame:
    """Maturity, final_after and lineage, as `long_format.finish` gives metric rows (dates in
    `kept_final` stay final, as their conversation metrics do)."""
    final = (F.col("stat_date") <= F.date_sub(F.lit(run_date), WINDOW_DAYS)) | F.col("stat_date").isin(list(kept_final))
    return (
        detail.withColumn("maturity", F.when(final, F.lit("final")).otherwise(F.lit("provisional")))
        .withColumn("final_after", local_day_end(F.col("stat_date"), F.col("timezone"), WINDOW_DAYS))
        .withColumn("definition_version", F.lit(DEFINITION_VERSION))
        .withColumn("run_id", F.lit(run_id))
        .withColumn("computed_at", F.lit(computed_at).cast("timestamp"))
        .drop("timezone")
    )


def drill_down_measures() -> dict[str, tuple[Column, Column | None]]:
    """Each conversation metric's (numerator, denominator) as an aggregate of a shop-day's
    detail rows: the table of this module's docstring, as Spark columns."""
    return {
        "transfer_sessions": (F.sum(F.col("is_transferred").cast("int")), None),
        "received_sessions": (F.sum(F.col("is_received").cast("int")), None),
        "pickup_rate": (F.sum(F.col("is_received").cast("int")), F.sum(F.col("is_transferred").cast("int"))),
        "consult_sessions": (F.count(F.when(~F.col("is_filtered"), 1)), None),
        "filtered_sessions": (F.count(F.when(F.col("is_filtered"), 1)), None),
        "consult_buyers": (F.sum(F.col("decides_reply_rate").cast("int")), None),
        "reply_rate": (F.sum((F.col("decides_reply_rate") & F.col("buyer_replied")).cast("int")), F.sum(F.col("decides_reply_rate").cast("int"))),
        "reply_3min_rate": (F.sum("replied_3min_messages"), F.sum("counted_3min_messages")),
        "reply_3min_session_rate": (F.sum("reply_3min_session"), F.count("reply_3min_session")),
        "avg_response_seconds": (F.sum("response_seconds_sum"), F.sum("replied_messages")),
        "avg_round_response_seconds": (F.sum("round_response_seconds_sum"), F.sum("replied_rounds")),
        "slow_rounds": (F.sum("slow_rounds"), None),
        "first_response_seconds": (F.sum("first_response_seconds"), F.count("first_response_seconds")),
        "avg_wait_seconds": (F.sum("wait_seconds"), F.count("wait_seconds")),
        "avg_reception_seconds": (F.sum("reception_seconds"), F.count("reception_seconds")),
        "answer_question_ratio": (F.sum("human_messages"), F.sum("human_phase_buyer_messages")),
    }
