"""Conversation metrics on a hand-built day; every expected number is worked out in comments."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from csmetrics.metrics.conversation import conversation_metrics
from csmetrics.metrics.long_format import finish
from csmetrics.schemas.raw import MESSAGES, SESSIONS
from tests.conftest import local

D = date(2026, 3, 2)
SH = "Asia/Shanghai"
LA = "America/Los_Angeles"


def session(sid, buyer, started, transferred=None, queue=None, assigned=None, ended=None, agent=None, spam=False, shop="s1", zone=SH, internal=False):
    t = lambda x: local(x, zone) if x else None  # noqa: E731
    return (sid, shop, buyer, t(started), t(ended), t(transferred), t(queue), t(assigned), agent, internal, spam, None, None, None, t(started))


def message(mid, sid, role, at, agent=None, kind="text", shop="s1", zone=SH):
    return (mid, sid, shop, role, agent, local(at, zone), kind)


SESSIONS_ROWS = [
    # A: straight to a human (h1); replies at exactly 180 s and 181 s; an unanswered last round.
    session("A", "u1", "2026-03-02 10:00:00", "2026-03-02 10:00:00", "2026-03-02 10:00:00", "2026-03-02 10:00:30", "2026-03-02 10:20:00", "h1"),
    # B: bot first, transferred at 07:59:30, never picked up; buyer writes at 07:59:59 and 08:00:00.
    session("B", "u2", "2026-03-02 07:59:00", "2026-03-02 07:59:30", "2026-03-02 07:59:30"),
    # C: same buyer as A; messages at 22:59:59 and 23:00:00; handed from h2 to h3; reply after midnight.
    session("C", "u1", "2026-03-02 22:50:00", "2026-03-02 22:50:00", "2026-03-02 22:50:00", "2026-03-02 22:50:20", "2026-03-03 00:05:00", "h3"),
    # E: bot only, the bot answers the buyer's last message.
    session("E", "u3", "2026-03-02 12:00:00", agent="bot1"),
    # F: spam, filtered out of everything but filtered_sessions.
    session("F", "u4", "2026-03-02 11:00:00", "2026-03-02 11:00:00", agent="h1", spam=True),
    # I: the shop's own sub-account (internal), slow and unanswered: filtered too.
    session("I", "u5", "2026-03-02 13:00:00", "2026-03-02 13:00:00", "2026-03-02 13:00:00", "2026-03-02 13:09:00", agent="h1", internal=True),
    # L: a Los Angeles shop; 20:00 local on D is already D+1 in UTC.
    session("L", "u9", "2026-03-02 20:00:00", "2026-03-02 20:00:00", None, None, None, "h9", shop="s2", zone=LA),
]

MESSAGE_ROWS = [
    message("a1", "A", "buyer", "2026-03-02 10:00:10"),
    message("a2", "A", "system", "2026-03-02 10:00:11", kind="auto_reply"),
    message("a3", "A", "buyer", "2026-03-02 10:00:20"),
    message("a4", "A", "human", "2026-03-02 10:03:10", "h1"),  # a1 +180 s, a3 +170 s
    message("a5", "A", "buyer", "2026-03-02 10:05:00"),
    message("a6", "A", "bot", "2026-03-02 10:05:30", "bot1", "card"),
    message("a7", "A", "human", "2026-03-02 10:08:01", "h1"),  # a5 +181 s
    message("a8", "A", "buyer", "2026-03-02 10:09:00"),  # never answered
    message("b1", "B", "buyer", "2026-03-02 07:59:00"),  # before the transfer
    message("b2", "B", "bot", "2026-03-02 07:59:05", "bot1"),
    message("b3", "B", "buyer", "2026-03-02 07:59:59"),
    message("b4", "B", "buyer", "2026-03-02 08:00:00"),
    message("c1", "C", "buyer", "2026-03-02 22:59:59"),
    message("c3", "C", "buyer", "2026-03-02 23:00:00"),
    message("c2", "C", "human", "2026-03-02 23:01:00", "h2"),  # c1 +61 s, c3 +60 s
    message("c4", "C", "buyer", "2026-03-02 23:58:00"),
    message("c5", "C", "human", "2026-03-03 00:01:00", "h3"),  # c4 +180 s, after midnight
    message("e1", "E", "buyer", "2026-03-02 12:00:00"),
    message("e2", "E", "bot", "2026-03-02 12:00:03", "bot1"),
    message("f1", "F", "buyer", "2026-03-02 11:00:05"),
    message("f2", "F", "human", "2026-03-02 11:00:10", "h1"),
    message("i1", "I", "buyer", "2026-03-02 13:00:05"),
    message("l1", "L", "buyer", "2026-03-02 22:59:59", shop="s2", zone=LA),
    message("l2", "L", "human", "2026-03-02 23:00:30", "h9", shop="s2", zone=LA),  # +31 s
]


@pytest.fixture(scope="module")
def metric_rows(spark, two_shops):
    shops = two_shops
    sessions = spark.createDataFrame(SESSIONS_ROWS, SESSIONS.schema)
    messages = spark.createDataFrame(MESSAGE_ROWS, MESSAGES.schema)
    long = conversation_metrics(sessions, messages, shops, [D, date(2026, 3, 3)])
    rows = finish(long, shops, D, "test-run", datetime(2026, 3, 4)).collect()
    return {(r.stat_date, r.shop_id, r.agent_id, r.metric): r for r in rows}


def shop_value(rows, metric, shop="s1", day=D):
    row = rows.get((day, shop, None, metric))
    return None if row is None else (row.numerator, row.denominator, row.value)


@pytest.mark.parametrize(
    "metric, expected",
    [
        ("consult_sessions", (4, None, 4)),  # A, B, C, E (F is spam, I internal)
        ("consult_buyers", (3, None, 3)),  # u1 (A and C), u2, u3
        ("filtered_sessions", (2, None, 2)),  # F (spam), I (internal)
        ("transfer_sessions", (3, None, 3)),  # A, B, C
        ("received_sessions", (2, None, 2)),  # A, C (B never picked up)
        ("pickup_rate", (2, 3, 2 / 3)),
        # Counted (human phase, 08:00 <= local < 23:00 on D): a1 a3 a5 a8, b4, c1 -> 6;
        # within 180 s: a1 (180), a3 (170), c1 (61) -> 3. Not counted: b3 07:59:59, c3 23:00:00, c4 23:58.
        ("reply_3min_rate", (3, 6, 0.5)),
        # A has a miss, B has a miss, C's only counted message is fine -> 1 of 3 sessions.
        ("reply_3min_session_rate", (1, 3, 1 / 3)),
        # a1 180 + a3 170 + a5 181 + c1 61 + c3 60 + c4 180 (after midnight) = 832 over 6.
        ("avg_response_seconds", (832, 6, 832 / 6)),
        # Rounds: A {a1,a3} 180, {a5} 181, {a8} none; B {b3,b4} none; C {c1,c3} 61, {c4} 180.
        ("avg_round_response_seconds", (602, 4, 150.5)),
        ("slow_rounds", (3, None, 3)),  # 181 s, and two rounds never answered
        ("first_response_seconds", (241, 2, 120.5)),  # A: a1 180, C: c1 61
        ("avg_wait_seconds", (50, 2, 25)),  # A 30 s, C 20 s; B never assigned
        ("answer_question_ratio", (4, 9, 4 / 9)),  # a4 a7 c2 c5 / a1 a3 a5 a8 b3 b4 c1 c3 c4
        # u1's last message c4 was answered (c5), u2's b4 was not, u3's e1 was (bot e2).
        ("reply_rate", (2, 3, 2 / 3)),
        ("avg_reception_seconds", (5700, 2, 2850)),  # A 1200 s, C 4500 s
    ],
)
def test_shop_metrics(metric_rows, metric, expected):
    assert shop_value(metric_rows, metric) == pytest.approx(expected)


def test_los_angeles_day_is_its_local_day(metric_rows):
    # L starts 2026-03-03 04:00 UTC, which is 2026-03-02 20:00 in Los Angeles.
    assert shop_value(metric_rows, "consult_sessions", "s2") == (1, None, 1)
    assert shop_value(metric_rows, "consult_sessions", "s2", date(2026, 3, 3)) is None
    # 22:59:59 local is inside business hours; answered after 31 s.
    assert shop_value(metric_rows, "reply_3min_rate", "s2") == (1, 1, 1)


def test_final_after_is_local_end_of_next_day(metric_rows):
    assert metric_rows[(D, "s1", None, "pickup_rate")].final_after == datetime(2026, 3, 3, 16, 0)
    assert metric_rows[(D, "s2", None, "pickup_rate")].final_after == datetime(2026, 3, 4, 8, 0)
    # The run for D writes D provisional (w = 1).
    assert metric_rows[(D, "s1", None, "pickup_rate")].maturity == "provisional"


def test_zero_counts_and_empty_ratios_are_not_written(metric_rows):
    assert not any(k[0] == date(2026, 3, 3) and k[1] == "s1" for k in metric_rows)
    # s2 has no queue data: no avg_wait_seconds row rather than 0 / 0.
    assert shop_value(metric_rows, "avg_wait_seconds", "s2") is None


@pytest.mark.parametrize(
    "agent, metric, expected",
    [
        ("h1", "reply_3min_rate", (2, 4, 0.5)),  # a1 a3 a5 a8 (a8 unanswered: A's last agent h1)
        ("h2", "reply_3min_rate", (1, 1, 1)),  # c1 answered by h2
        ("unassigned", "reply_3min_rate", (0, 1, 0)),  # b4: no reply, no last agent
        ("h3", "transfer_sessions", (1, None, 1)),  # C goes to its last agent
        ("h3", "avg_round_response_seconds", (180, 1, 180)),  # {c4} answered by h3
        ("h2", "avg_round_response_seconds", (61, 1, 61)),
        ("unassigned", "pickup_rate", (0, 1, 0)),
        ("h1", "answer_question_ratio", (2, 4, 0.5)),
    ],
)
def test_agent_attribution(metric_rows, agent, metric, expected):
    row = metric_rows[(D, "s1", agent, metric)]
    assert (row.numerator, row.denominator, row.value) == pytest.approx(expected)


def test_shop_only_metrics_have_no_agent_rows(metric_rows):
    assert not [k for k in metric_rows if k[2] is not None and k[3] in ("consult_sessions", "consult_buyers")]


def test_a_human_message_sent_in_the_same_microsecond_is_the_reply(spark, two_shops):
    """SPEC §3: the next human reply is the earliest human message with sent_at >= the buyer
    message's, whatever their message_ids. Here the human t1 shares the buyer's instant and
    sorts before it by id, so t2 is answered after 0 s by h5, and t2 opens a round after t1."""
    sessions = spark.createDataFrame(
        [session("T", "u7", "2026-03-02 09:59:00", "2026-03-02 09:59:00", agent="h6")], SESSIONS.schema
    )
    messages = spark.createDataFrame(
        [
            message("t1", "T", "human", "2026-03-02 10:00:00", "h5"),
            message("t2", "T", "buyer", "2026-03-02 10:00:00"),
            message("t3", "T", "human", "2026-03-02 10:05:00", "h6"),
        ],
        MESSAGES.schema,
    )
    rows = conversation_metrics(sessions, messages, two_shops, [D]).collect()
    values = {(r.agent_id, r.metric): (r.numerator, r.denominator) for r in rows}
    assert values[(None, "reply_3min_rate")] == (1, 1)
    assert values[(None, "avg_response_seconds")] == (0, 1)
    assert values[(None, "avg_round_response_seconds")] == (0, 1)
    assert values[(None, "slow_rounds")][0] == 0
    assert values[("h5", "reply_3min_rate")] == (1, 1)
    # t2 is not attributed to h6, the next human by message order and the session's last agent.
    assert values.get(("h6", "reply_3min_rate"), (0, 0)) == (0, 0)


def test_an_auto_reply_from_an_agents_account_is_not_a_human_reply(spark, two_shops):
    """SPEC §3: an auto-reply is never a reply, whoever sends it. An agent's configured
    auto-reply comes from the agent's account (sender_role human), here 1 s after the buyer.

    G: the buyer writes at 14:00:05 (g1) and 14:01:00 (g3); h4's auto-reply g2 comes at
    14:00:06; h4 really answers at 14:05:00 (g4): 295 s after g1, 240 s after g3. g1 and g3
    are one round (the auto-reply does not end it), answered after 295 s.
    H: the buyer writes at 15:00:10 (k1) and gets only h4's auto-reply (k2): not received,
    no reply, a slow round."""
    sessions = spark.createDataFrame(
        [
            session("G", "u7", "2026-03-02 14:00:00", "2026-03-02 14:00:00", agent="h4"),
            session("H", "u8", "2026-03-02 15:00:00", "2026-03-02 15:00:00", agent="h4"),
        ],
        SESSIONS.schema,
    )
    messages = spark.createDataFrame(
        [
            message("g1", "G", "buyer", "2026-03-02 14:00:05"),
            message("g2", "G", "human", "2026-03-02 14:00:06", "h4", kind="auto_reply"),
            message("g3", "G", "buyer", "2026-03-02 14:01:00"),
            message("g4", "G", "human", "2026-03-02 14:05:00", "h4"),
            message("k1", "H", "buyer", "2026-03-02 15:00:10"),
            message("k2", "H", "human", "2026-03-02 15:00:11", "h4", kind="auto_reply"),
        ],
        MESSAGES.schema,
    )
    rows = conversation_metrics(sessions, messages, two_shops, [D]).collect()
    values = {r.metric: (r.numerator, r.denominator) for r in rows if r.agent_id is None}
    assert values["transfer_sessions"] == (2, None)
    assert values["received_sessions"] == (1, None)  # G only: k2 is no reply
    assert values["pickup_rate"] == (1, 2)
    assert values["reply_3min_rate"] == (0, 3)  # g1 295 s, g3 240 s, k1 never
    assert values["reply_3min_session_rate"] == (0, 2)
    assert values["avg_response_seconds"] == (295 + 240, 2)
    assert values["avg_round_response_seconds"] == (295, 1)  # {g1, g3}; {k1} unanswered
    assert values["slow_rounds"] == (2, None)
    assert values["first_response_seconds"] == (295, 1)
    assert values["answer_question_ratio"] == (1, 3)  # g4 / g1 g3 k1
    assert values["reply_rate"] == (1, 2)  # u7's g3 answered by g4; u8's k1 by nothing
