"""Session detail on the hand-built day of test_conversation_metrics: each row worked out by
hand, and the sum of a shop-day's rows equal to every conversation metric of that shop-day."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from pyspark.sql import functions as F

from csmetrics.metrics.conversation import conversation_frames, metrics_of
from csmetrics.metrics.long_format import finish
from csmetrics.metrics.session_detail import drill_down_measures, session_detail
from csmetrics.schemas.raw import MESSAGES, RATINGS, SESSIONS
from tests.conftest import local
from tests.unit.test_conversation_metrics import LA, MESSAGE_ROWS, SESSIONS_ROWS, SH

D = date(2026, 3, 2)
DATES = [D, date(2026, 3, 3)]
HOURS = (time(8), time(23))


def rating(rid, sid, rated, score, shop="s1", zone=SH):
    return (rid, sid, shop, "u", "human", local(rated, zone), local(rated, zone), score, None)


# The detail shows a rating given by the end of the session's local day + 1, the latest if several.
RATING_ROWS = [
    rating("rA0", "A", "2026-03-02 11:00:00", 5),
    rating("rA1", "A", "2026-03-03 23:59:59", 2),  # A's last counted rating: the last second of D + 1
    rating("rC", "C", "2026-03-04 00:00:00", 4),  # the first second of D + 2: not shown
    rating("rL", "L", "2026-03-03 23:59:59", 1, shop="s2", zone=LA),  # D + 1 in Los Angeles (03-04 in UTC)
]


@pytest.fixture(scope="module")
def frames(spark, two_shops):
    sessions = spark.createDataFrame(SESSIONS_ROWS, SESSIONS.schema)
    messages = spark.createDataFrame(MESSAGE_ROWS, MESSAGES.schema)
    of_dates, partials = conversation_frames(sessions, messages, two_shops, DATES, *HOURS)
    detail = session_detail(of_dates, partials, *HOURS, spark.createDataFrame(RATING_ROWS, RATINGS.schema))
    # The rows as published: only positive counts and denominators (SPEC §5).
    metrics = finish(metrics_of(of_dates, partials), two_shops, D, "test-run", datetime(2026, 3, 4))
    return detail, metrics


@pytest.fixture(scope="module")
def rows(frames):
    detail, _ = frames
    return {r.session_id: r for r in detail.collect()}


def test_one_row_per_session_of_the_dates_filtered_ones_flagged(rows):
    assert sorted(rows) == ["A", "B", "C", "E", "F", "I", "L"]
    assert {sid for sid, r in rows.items() if r.is_filtered} == {"F", "I"}
    # Filtered sessions count in nothing else.
    assert rows["F"].buyer_messages is None and rows["F"].decides_reply_rate is False


def test_session_a_by_hand(rows):
    a = rows["A"]
    # a1 a3 a5 a8 from the buyer, a4 a7 from h1, a6 from the bot, a2 an auto-reply.
    assert (a.buyer_messages, a.human_messages, a.bot_messages, a.system_messages) == (4, 2, 1, 1)
    # All four buyer messages are in business hours; a1 (180 s) and a3 (170 s) in time, a5
    # (181 s) late, a8 never answered.
    assert (a.counted_3min_messages, a.replied_3min_messages, a.unreplied_3min_messages) == (4, 2, 1)
    assert a.reply_3min_session == 0
    assert (a.first_response_seconds, a.wait_seconds, a.reception_seconds, a.duration_seconds) == (180, 30, 1200, 1200)
    assert (a.response_seconds_sum, a.replied_messages) == (180 + 170 + 181, 3)
    assert (a.replied_rounds, a.round_response_seconds_sum, a.slow_rounds) == (2, 180 + 181, 2)
    assert a.agent_ids == ["h1"] and a.is_received and not a.unassigned_in_business_hours
    # u1's last message of the day is in C, so C decides u1's reply_rate, not A.
    assert (a.decides_reply_rate, rows["C"].decides_reply_rate, rows["C"].buyer_replied) == (False, True, True)


def test_the_rating_given_by_the_end_of_the_next_local_day(rows):
    assert {sid: r.rating_score for sid, r in rows.items()} == {"A": 2, "B": None, "C": None, "E": None, "F": None, "I": None, "L": 1}


def test_session_b_sent_to_a_human_before_business_hours_is_not_unassigned_in_them(rows):
    b = rows["B"]
    # Transferred at 07:59:30, never assigned nor answered; b4 (08:00:00) is counted and unanswered.
    assert (b.is_transferred, b.is_received, b.unassigned_in_business_hours) == (True, False, False)
    assert (b.counted_3min_messages, b.replied_3min_messages, b.unreplied_3min_messages, b.reply_3min_session) == (1, 0, 1, 0)
    assert b.first_response_seconds is None and b.wait_seconds is None and b.agent_ids == []


def test_session_c_handed_from_agent_to_agent(rows):
    c = rows["C"]
    # c1, c3 answered by h2 (c2), c4 by h3 after midnight (c5); h3 is the last agent.
    assert (c.agent_ids, c.last_agent_id) == (["h2", "h3"], "h3")
    assert (c.counted_3min_messages, c.replied_3min_messages, c.reply_3min_session) == (1, 1, 1)


def test_the_detail_rows_of_a_shop_day_sum_to_every_conversation_metric(frames):
    detail, metrics = frames
    computed = {(r.stat_date, r.shop_id, r.metric): (r.numerator, r.denominator) for r in metrics.where(F.col("agent_id").isNull()).collect()}
    measures = drill_down_measures()
    assert {m for *_, m in computed} == set(measures), "a conversation metric without its drill-down"
    summed = {}
    for metric, (numerator, denominator) in measures.items():
        aggregates = [numerator.cast("double").alias("n"), (denominator if denominator is not None else F.lit(None)).cast("double").alias("d")]
        for r in detail.groupBy("stat_date", "shop_id").agg(*aggregates).collect():
            # Long rows exist only for positive counts and denominators (SPEC §5).
            if (r.d if denominator is not None else r.n):
                summed[(r.stat_date, r.shop_id, metric)] = (r.n, r.d)
    assert summed == computed
