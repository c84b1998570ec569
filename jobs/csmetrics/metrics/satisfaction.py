"""satisfaction_rate and very_satisfied_rate (SPEC §4, window 1), per segment and per agent.

Population of D: ratings invited on local date D and given before the end of D+1, of a
non-filtered session. A rating counts in segment "all", in its target's segment (human,
bot) and in presale or aftersale by its buyer's status on D. At agent grain, ratings of
target human go to the rated session's last_agent_id under segment "human".
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from csmetrics.metrics.long_format import UNASSIGNED, aggregate, count_where
from csmetrics.metrics.buyer_status import with_after_sale
from csmetrics.registry import AGENT_RATING_SEGMENT
from csmetrics.timezones import local_date, local_day_end

SATISFIED_SCORE = 4
VERY_SATISFIED_SCORE = 5


def rated_population(ratings: DataFrame, sessions: DataFrame, shops: DataFrame, dates: list[date]) -> DataFrame:
    """Ratings that count for their invitation date, with the rated session's last agent."""
    zones = F.broadcast(shops.select("shop_id", "timezone"))
    kept_sessions = sessions.where(~(F.col("is_internal") | F.col("is_spam"))).select("session_id", "last_agent_id")
    return (
        ratings.join(zones, "shop_id")
        .withColumn("stat_date", local_date(F.col("invited_at"), F.col("timezone")))
        .where(F.col("stat_date").isin(dates))
        .where(F.col("rated_at") < local_day_end(F.col("stat_date"), F.col("timezone"), 1))
        .join(kept_sessions, "session_id")
    )


def satisfaction_metrics(
    ratings: DataFrame, sessions: DataFrame, shops: DataFrame, paid: DataFrame, dates: list[date]
) -> DataFrame:
    rated = with_after_sale(rated_population(ratings, sessions, shops, dates), paid)
    measures = {
        "satisfaction_rate": (count_where(F.col("score") >= SATISFIED_SCORE), F.count(F.lit(1))),
        "very_satisfied_rate": (count_where(F.col("score") == VERY_SATISFIED_SCORE), F.count(F.lit(1))),
    }
    segment = F.explode(
        F.array(F.lit("all"), F.col("target"), F.when(F.col("is_after_sale"), "aftersale").otherwise("presale"))
    )
    by_segment = rated.withColumn("segment", segment)
    shop_rows = aggregate(by_segment, measures, segment=F.col("segment"))
    agent_rows = aggregate(
        rated.where(F.col("target") == AGENT_RATING_SEGMENT),
        measures,
        segment=F.lit(AGENT_RATING_SEGMENT),
        agent=F.coalesce(F.col("last_agent_id"), F.lit(UNASSIGNED)),
    )
    return shop_rows.unionByName(agent_rows)

