"""Delayed-window metrics on a hand-built shop; every expected number is worked out in comments.

Shop s1 (Asia/Shanghai), D = 2026-03-10. Buyers and their after-sale status on D
(an order paid on a local date in [D-21, D-1] = [02-17, 03-09]):
  bA paid 02-17 12:00 (D-21)      -> after-sale
  bB paid 02-16 12:00 (D-22)      -> pre-sale
  bC paid 03-09 23:59:59 (D-1)    -> after-sale
  bD paid 03-10 09:00 (D itself)  -> pre-sale
  bF paid 03-01                   -> after-sale
Shop s2 (America/Los_Angeles) has tickets closed either side of local midnight.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from csmetrics.conformed import paid_days, sessions_of_dates
from csmetrics.metrics.after_sale import complaint_cohort_metrics, ticket_metrics
from csmetrics.metrics.follow_up import fcr_metrics, resolution_metrics
from csmetrics.metrics.sales import sales_metrics
from csmetrics.metrics.satisfaction import satisfaction_metrics
from csmetrics.schemas.raw import AFTER_SALES, COMPLAINTS, MESSAGES, ORDERS, RATINGS, SESSIONS
from tests.conftest import local

D = date(2026, 3, 10)
SH = "Asia/Shanghai"
LA = "America/Los_Angeles"


def t(text, zone=SH):
    return local(text, zone) if text else None


def session(sid, buyer, started, transferred=None, agent=None, spam=False, shop="s1"):
    return (sid, shop, buyer, t(started), None, t(transferred), None, None, agent, False, spam, None, None, None, t(started))


def order(oid, buyer, created, paid, amount="10.00", items=1, shop="s1"):
    return (oid, shop, buyer, t(created), t(paid), Decimal(amount), items, t(paid or created))


def rating(rid, sid, buyer, target, invited, rated, score):
    return (rid, sid, "s1", buyer, target, t(invited), t(rated), score, None)


def ticket(tid, buyer, kind, created, closed, wait, responsibility=None, shop="s1", zone=SH):
    return (tid, "o-" + tid, shop, buyer, kind, t(created, zone), t(closed, zone), wait, responsibility, t(closed or created, zone))


def complaint(cid, order_id, buyer, kind, created):
    return (cid, order_id, "s1", buyer, kind, t(created))


SESSION_ROWS = [
    session("S1", "bA", "2026-03-10 10:00:00", "2026-03-10 10:00:00", "h1"),
    session("S6", "bA", "2026-03-10 15:00:00"),  # bot only: no recontact for S1
    session("S1b", "bA", "2026-03-13 10:00:00", "2026-03-13 10:00:00", "h1"),  # S1 + exactly 72 h: recontact
    session("S2", "bC", "2026-03-10 11:00:00", "2026-03-10 11:00:00", "h2"),
    session("S2b", "bC", "2026-03-13 11:00:01", "2026-03-13 11:00:01", "h2"),  # S2 + 72 h + 1 s: too late
    session("S2c", "bC", "2026-03-11 12:00:00", "2026-03-11 12:00:00", "h2", spam=True),  # filtered: no recontact
    session("S3", "bB", "2026-03-10 09:00:00", agent="bot1"),
    session("S4", "bD", "2026-03-10 10:00:00", "2026-03-10 10:00:00", "h1"),
    session("S5", "bE", "2026-03-10 14:00:00", "2026-03-10 14:00:00", "h1", spam=True),
    session("S8", "bF", "2026-03-10 16:00:00", "2026-03-10 16:00:00"),  # after-sale, never picked up
]

MESSAGE_ROWS = [
    ("m1", "S1", "s1", "human", "h1", t("2026-03-10 10:01:00"), "text"),
    ("m2", "S2", "s1", "human", "h2", t("2026-03-10 11:02:00"), "text"),
    ("m4", "S4", "s1", "human", "h1", t("2026-03-10 10:01:00"), "text"),
]

ORDER_ROWS = [
    order("oA1", "bA", "2026-02-17 11:00:00", "2026-02-17 12:00:00"),
    order("oB1", "bB", "2026-02-16 11:00:00", "2026-02-16 12:00:00"),
    order("oC1", "bC", "2026-03-09 23:00:00", "2026-03-09 23:59:59"),
    order("oD1", "bD", "2026-03-10 08:00:00", "2026-03-10 09:00:00"),  # paid before bD's t0 (10:00)
    order("oF1", "bF", "2026-03-01 08:00:00", "2026-03-01 09:00:00"),
    # bB (t0 = 03-10 09:00): paid at t0 + 72 h - 1 s, and within D+1.
    order("oB2", "bB", "2026-03-10 09:30:00", "2026-03-13 08:59:59", "100.00", 2),
    order("oB3", "bB", "2026-03-11 10:00:00", "2026-03-11 23:59:59", "50.50", 1),
    # bD (t0 = 03-10 10:00): paid at exactly t0 + 72 h, still before the end of D+3.
    order("oD2", "bD", "2026-03-10 10:30:00", "2026-03-13 10:00:00", "80.00", 3),
    # bA (after-sale, still a consulting buyer): an attributed order, and an unpaid one.
    order("oA2", "bA", "2026-03-10 10:30:00", "2026-03-10 10:40:00", "20.00", 1),
    order("oA3", "bA", "2026-03-10 10:10:00", None, "999.00", 9),
    # The complaint cohort of D: orders paid on D - 14 = 02-24.
    order("oK1", "bK1", "2026-02-24 09:00:00", "2026-02-24 10:00:00"),
    order("oK2", "bK2", "2026-02-24 09:00:00", "2026-02-24 11:00:00"),
    order("oK3", "bK3", "2026-02-24 09:00:00", "2026-02-24 12:00:00"),
    order("oK4", "bK4", "2026-02-23 09:00:00", "2026-02-23 23:59:59"),  # 02-23: not in the cohort
]

RATING_ROWS = [
    rating("r1", "S1", "bA", "human", "2026-03-10 10:30:00", "2026-03-11 23:59:59", 5),  # last second of D+1: counts
    rating("r2", "S3", "bB", "bot", "2026-03-10 09:10:00", "2026-03-12 00:00:00", 5),  # first second of D+2: never
    rating("r3", "S4", "bD", "human", "2026-03-10 10:20:00", "2026-03-10 10:25:00", 3),
    rating("r4", "S2", "bC", "human", "2026-03-10 11:30:00", "2026-03-10 11:31:00", 4),
    rating("r5", "S5", "bE", "human", "2026-03-10 14:10:00", "2026-03-10 14:11:00", 1),  # spam session
    rating("r6", "S3", "bB", "bot", "2026-03-10 09:20:00", "2026-03-10 09:21:00", 4),
]

TICKET_ROWS = [
    ticket("T1", "bB", "refund_only", "2026-03-10 12:00:00", None, 0),  # open; an after-sale contact of bB on D
    ticket("T2", "bX", "refund_only", "2026-03-09 10:00:00", "2026-03-10 10:00:00", 3600, "merchant"),
    ticket("T3", "bX", "return_refund", "2026-03-08 00:00:00", "2026-03-10 23:59:59", 7200, "buyer"),
    ticket("T4", "bX", "exchange", "2026-03-09 00:00:00", "2026-03-10 12:00:00", 600),
    ticket("T5", "bX", "refund_only", "2026-03-09 00:00:00", "2026-03-11 00:00:00", 900),  # closed on D+1
    ticket("T6", "bL", "refund_only", "2026-03-10 10:00:00", "2026-03-10 23:59:59", 100, shop="s2", zone=LA),
    ticket("T7", "bM", "refund_only", "2026-03-10 10:00:00", "2026-03-11 00:00:00", 200, shop="s2", zone=LA),
]

COMPLAINT_ROWS = [
    complaint("c1", "oK1", "bK1", "complaint", "2026-03-10 10:00:00"),  # oK1 paid + exactly 336 h
    complaint("c2", "oK2", "bK2", "complaint", "2026-03-10 11:00:01"),  # oK2 paid + 336 h + 1 s
    complaint("c3", "oK3", "bK3", "dispute", "2026-02-24 13:00:00"),  # not of kind complaint
    complaint("c4", None, "bA", "platform_consult", "2026-03-25 10:00:00"),  # bA's t (S1) + exactly 360 h
    complaint("c5", None, "bC", "complaint", "2026-03-25 11:00:01"),  # bC's t (S2) + 360 h + 1 s
    complaint("c6", None, "bB", "complaint", "2026-03-10 11:59:59"),  # before bB's ticket T1
]


@pytest.fixture(scope="module")
def frames(spark, two_shops):
    shops = two_shops
    orders = spark.createDataFrame(ORDER_ROWS, ORDERS.schema)
    return {
        "shops": shops,
        "sessions": spark.createDataFrame(SESSION_ROWS, SESSIONS.schema),
        "messages": spark.createDataFrame(MESSAGE_ROWS, MESSAGES.schema),
        "orders": orders,
        "ratings": spark.createDataFrame(RATING_ROWS, RATINGS.schema),
        "after_sales": spark.createDataFrame(TICKET_ROWS, AFTER_SALES.schema),
        "complaints": spark.createDataFrame(COMPLAINT_ROWS, COMPLAINTS.schema),
        "paid": paid_days(orders, shops),
    }


def by_key(long):
    """(stat_date, shop_id, agent_id, metric, segment) -> (numerator, denominator)."""
    return {
        (r.stat_date, r.shop_id, r.agent_id, r.metric, r.segment): (r.numerator, r.denominator)
        for r in long.collect()
    }


def of_d(frames, dates=(D,)):
    return sessions_of_dates(frames["sessions"], frames["shops"], list(dates))


@pytest.fixture(scope="module")
def satisfaction(frames):
    return by_key(satisfaction_metrics(frames["ratings"], frames["sessions"], frames["shops"], frames["paid"], [D]))


@pytest.mark.parametrize(
    "segment, satisfied, very",
    [
        # Counted: r1 (5, bA after-sale, human), r3 (3, bD pre-sale, human), r4 (4, bC after-sale, human),
        # r6 (4, bB pre-sale, bot). Not: r2 rated at 00:00:00 of D+2, r5 of a spam session.
        ("all", (3, 4), (1, 4)),
        ("human", (2, 3), (1, 3)),
        ("bot", (1, 1), (0, 1)),
        ("presale", (1, 2), (0, 2)),  # r3, r6
        ("aftersale", (2, 2), (1, 2)),  # r1, r4
    ],
)
def test_satisfaction_segments(satisfaction, segment, satisfied, very):
    assert satisfaction[(D, "s1", None, "satisfaction_rate", segment)] == satisfied
    assert satisfaction[(D, "s1", None, "very_satisfied_rate", segment)] == very


def test_satisfaction_per_agent_of_human_ratings(satisfaction):
    # r1 (S1, h1, 5) and r3 (S4, h1, 3) go to h1; r4 (S2, h2, 4) to h2; bot ratings to no agent.
    assert satisfaction[(D, "s1", "h1", "satisfaction_rate", "human")] == (1, 2)
    assert satisfaction[(D, "s1", "h1", "very_satisfied_rate", "human")] == (1, 2)
    assert satisfaction[(D, "s1", "h2", "satisfaction_rate", "human")] == (1, 1)
    assert not [k for k in satisfaction if k[2] is not None and k[4] != "human"]


@pytest.fixture(scope="module")
def sales(frames):
    return by_key(sales_metrics(of_d(frames), frames["orders"], frames["paid"]))


@pytest.mark.parametrize(
    "metric, expected",
    [
        # Consulting buyers of D: bA, bB, bC, bD (bE only has a spam session). Pre-sale: bB, bD.
        ("inquiry_buyers", (2, None)),
        # bB paid oB3 at 23:59:59 of D+1; bD's only payment after t0 is on D+3.
        ("inquiry_pay_rate_t1", (1, 2)),
        ("inquiry_pay_rate_final", (2, 2)),  # bB, and bD paid at 10:00 of D+3 (before the end of D+3)
        # oB2 (paid t0 + 72 h - 1 s) 100.00 + oB3 50.50 + oA2 20.00. Not: oD2 (paid exactly t0 + 72 h),
        # oD1 and oC1 (created before t0), oA3 (unpaid).
        ("cs_sales_amount", (170.5, None)),
        ("cs_buyers", (2, None)),  # bA, bB
        ("cs_items", (4, None)),  # 2 + 1 + 1
        ("avg_order_value", (170.5, 2)),
        ("items_per_buyer", (4, 2)),
    ],
)
def test_sales(sales, metric, expected):
    assert sales[(D, "s1", None, metric, "all")] == pytest.approx(expected)


def test_fcr_3d(frames):
    rows = by_key(fcr_metrics(of_d(frames), frames["sessions"], frames["messages"], frames["paid"]))
    # After-sale buyers' received sessions of D: S1 (bA) and S2 (bC); S8 (bF) was never picked up,
    # S4 is bD's (pre-sale). S1 is recontacted by S1b at exactly +72 h; S2 only by S2b at
    # +72 h + 1 s and by the spam S2c, so it stays resolved: 1 of 2.
    assert rows == {(D, "s1", None, "fcr_3d", "all"): (1, 2)}


def test_resolution_rate_15d(frames):
    long = resolution_metrics(of_d(frames), frames["after_sales"], frames["complaints"], frames["shops"], frames["paid"], [D])
    rows = by_key(long)
    # Contacts of D at s1: bA (S1, t 10:00), bC (S2, t 11:00), bF (S8, t 16:00) as after-sale buyers'
    # sessions, and bB through ticket T1 (t 12:00). Unresolved: bA, complained at exactly t + 360 h.
    # bC's complaint comes 1 s too late, bB's before t.
    assert rows[(D, "s1", None, "resolution_rate_15d", "all")] == (3, 4)
    # s2: tickets T6 and T7 created 03-10 in Los Angeles, no complaints.
    assert rows[(D, "s2", None, "resolution_rate_15d", "all")] == (2, 2)


def test_complaint_rate_14d(frames):
    rows = by_key(complaint_cohort_metrics(frames["orders"], frames["complaints"], frames["shops"], [D]))
    # Cohort paid on 02-24: oK1 (complained at paid + 336 h), oK2 (1 s later), oK3 (a dispute only).
    assert rows == {(D, "s1", None, "complaint_rate_14d", "all"): (1, 3)}


@pytest.fixture(scope="module")
def tickets(frames):
    return by_key(ticket_metrics(frames["after_sales"], frames["shops"], [D, date(2026, 3, 11)]))


@pytest.mark.parametrize(
    "shop, day, metric, expected",
    [
        # s1 tickets closed on D: T2 (refund_only, merchant), T3 (return_refund, 23:59:59), T4 (exchange).
        ("s1", D, "dispute_merchant_rate", (1, 3)),
        ("s1", D, "return_refund_wait_seconds", (7800, 2)),  # T3 7200 + T4 600
        ("s1", D, "refund_only_wait_seconds", (3600, 1)),  # T2
        ("s1", D, "refund_cycle_seconds", (86400 + 259199, 2)),  # T2 1 day, T3 2 days 23:59:59
        ("s1", date(2026, 3, 11), "refund_only_wait_seconds", (900, 1)),  # T5 closed at 00:00:00
        # s2 in Los Angeles: T6 closed 23:59:59 local on D (already 03-11 in UTC), T7 at 00:00:00 of D+1.
        ("s2", D, "refund_only_wait_seconds", (100, 1)),
        ("s2", D, "refund_cycle_seconds", (50399, 1)),
        ("s2", date(2026, 3, 11), "refund_only_wait_seconds", (200, 1)),
    ],
)
def test_ticket_metrics(tickets, shop, day, metric, expected):
    assert tickets[(day, shop, None, metric, "all")] == expected


def test_after_sale_status_borders(frames, spark):
    from csmetrics.metrics.buyer_status import with_after_sale

    keys = spark.createDataFrame([("s1", b, D) for b in ("bA", "bB", "bC", "bD", "bF")], "shop_id string, buyer_id string, stat_date date")
    status = {r.buyer_id: r.is_after_sale for r in with_after_sale(keys, frames["paid"]).collect()}
    assert status == {"bA": True, "bB": False, "bC": True, "bD": False, "bF": True}
