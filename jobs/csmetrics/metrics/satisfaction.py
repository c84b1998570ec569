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

from csmetrics.conformed import is_filtered, with_local_date
from csmetrics.metrics.buyer_status import PAID_ORDERS, with_after_sale
from csmetrics.metrics.family import METRIC_ROWS, TIMEZONE_MARGIN_DAYS, Family, Inputs, Read
from csmetrics.metrics.long_format import UNASSIGNED, aggregate, count_where
from csmetrics.metrics.scenes import LABELS, SCENE_METRICS, scene_satisfaction
from csmetrics.registry import AGENT_RATING_SEGMENT, BY_ID
from csmetrics.timezones import local_day_end

SATISFIED_SCORE = 4
VERY_SATISFIED_SCORE = 5
# A rating counts if given by the end of D + window (the registry's satisfaction window).
RATING_WINDOW_DAYS = BY_ID["satisfaction_rate"].window_days


def satisfaction_measures() -> dict:
    """satisfaction_rate over the rated population, for shop rows and scene rows alike."""
    return {"satisfaction_rate": (count_where(F.col("score") >= SATISFIED_SCORE), F.count(F.lit(1)))}


def rated_population(ratings: DataFrame, sessions: DataFrame, shops: DataFrame, dates: list[date]) -> DataFrame:
    """Ratings that count for their invitation date, with the rated session's last agent and scene."""
    kept_sessions = sessions.where(~is_filtered()).select("session_id", "last_agent_id", *LABELS)
    return (
        with_local_date(ratings, shops, "invited_at")
        .where(F.col("stat_date").isin(dates))
        .where(F.col("rated_at") < local_day_end(F.col("stat_date"), F.col("timezone"), RATING_WINDOW_DAYS))
        .join(kept_sessions, "session_id")
    )


def satisfaction_metrics(
    ratings: DataFrame, sessions: DataFrame, shops: DataFrame, paid: DataFrame, dates: list[date]
) -> DataFrame:
    return metrics_of_rated(with_after_sale(rated_population(ratings, sessions, shops, dates), paid))


def metrics_of_rated(rated: DataFrame) -> DataFrame:
    """Both metrics from the rated population with its buyers' after-sale status."""
    measures = {
        **satisfaction_measures(),
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


# A rating is invited once its session has ended: at most the next day (long sessions cross
# midnight), so its session started no earlier than the local day before.
RATED_SESSION_LOOKBACK_DAYS = 1


def _compute(inputs: Inputs, dates: list[date]) -> dict[str, DataFrame]:
    population = rated_population(inputs.read("ratings"), inputs.read("sessions"), inputs.shops, dates)
    rated = inputs.reuse(with_after_sale(population, inputs.paid()))  # read by shop and scene rows
    return {METRIC_ROWS: metrics_of_rated(rated), SCENE_METRICS: scene_satisfaction(rated, satisfaction_measures())}


FAMILY = Family(
    "satisfaction",
    (Read("ratings"), Read("sessions", before=TIMEZONE_MARGIN_DAYS + RATED_SESSION_LOOKBACK_DAYS), PAID_ORDERS),
    _compute,
)
