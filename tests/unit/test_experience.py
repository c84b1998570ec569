"""The service experience score on hand-made daily rows (docs/derived.md)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from csmetrics.derived.experience import (
    DEFAULT_INDICATORS,
    Indicator,
    experience_scores,
    leaderboard_rows,
    parse_indicators,
    score_dates,
)

D = date(2026, 3, 31)
DAILY = "stat_date date, shop_id string, metric string, segment string, numerator double, denominator double, value double, maturity string"
UNFINISHED = "stat_date date, shop_id string, metric string"
REPLY, DISPUTE, REFUND = "reply_3min_rate", "dispute_merchant_rate", "refund_only_wait_seconds"
# reply_3min_rate counts twice; higher is better for it, lower for the other two.
INDICATORS = (Indicator(REPLY, 2.0), Indicator(DISPUTE), Indicator(REFUND))


def day(n: int) -> date:
    return date(2026, 3, n)


ROWS = [
    # reply_3min_rate, the window [03-02, 03-31]
    (day(10), "a", REPLY, 8, 10), (day(31), "a", REPLY, 10, 10),  # 18 / 20 = 0.9
    (day(5), "b", REPLY, 14, 20),  # 0.7
    (day(31), "c", REPLY, 9, 10),  # 0.9, tied with a
    (day(1), "d", REPLY, 10, 10),  # 03-01: before the window
    (day(20), "d", REPLY, 3, 5),  # support 5 < 10: not a peer
    (day(15), "e", REPLY, 10, 10),  # alone in its category
    # dispute_merchant_rate
    (day(31), "a", DISPUTE, 2, 10),  # 0.2
    (day(12), "b", DISPUTE, 1, 20),  # 0.05
    (day(3), "c", DISPUTE, 5, 10),  # 0.5
    (day(3), "d", DISPUTE, 3, 12),  # 0.25
    # refund_only_wait_seconds (c has none)
    (day(20), "a", REFUND, 6000, 10),  # 600 s
    (day(20), "b", REFUND, 12000, 10),  # 1200 s
    (day(25), "d", REFUND, 4000, 10),  # 400 s
    # Not an indicator: f gets no rows.
    (day(20), "f", "pickup_rate", 5, 10),
]


@pytest.fixture(scope="module")
def shops(spark):
    return spark.createDataFrame(
        [(s, "p1", "beauty") for s in "abcdf"] + [("e", "p1", "food")], "shop_id string, platform string, category string"
    )


def daily_rows(spark, maturity="final"):
    return spark.createDataFrame([(d, s, m, "all", float(n), float(den), n / den, maturity) for d, s, m, n, den in ROWS], DAILY)


def scores(spark, shops, final_through=None, unfinished=()):
    frame = experience_scores(
        daily_rows(spark), shops, [D], INDICATORS, final_through or {0: D, 1: D},
        spark.createDataFrame(list(unfinished), UNFINISHED), min_support=10, min_peers=3,
    )
    return {(r.shop_id, r.indicator): r for r in frame.collect()}


def test_points_place_each_indicator_among_the_supported_peers_by_direction(spark, shops):
    rows = scores(spark, shops)
    assert {r.stat_date for r in rows.values()} == {D}
    # reply_3min_rate (higher is better): a and c tie at 0.9 and share the top; d's 03-01 is
    # outside the window, so its support is 5 and it is no peer.
    assert (rows["a", REPLY].numerator, rows["a", REPLY].denominator, rows["a", REPLY].value) == (18.0, 20.0, 0.9)
    assert (rows["a", REPLY].points, rows["c", REPLY].points, rows["b", REPLY].points) == (100.0, 100.0, pytest.approx(100 / 3))
    assert rows["a", REPLY].peer_shops == 3 and rows["a", REPLY].peer_excellent == pytest.approx(0.9)
    assert rows["d", REPLY].points is None and rows["d", REPLY].reason == "support 5 below CSMETRICS_MIN_SUPPORT"
    # dispute_merchant_rate (lower is better): values at or above the shop's are not better.
    assert [rows[s, DISPUTE].points for s in "abcd"] == [75.0, 100.0, 25.0, 50.0]
    # P10 of 0.05, 0.2, 0.25, 0.5, interpolated: 0.05 + 0.3 x 0.15.
    assert rows["a", DISPUTE].peer_excellent == pytest.approx(0.095)
    assert [rows[s, REFUND].points for s in "abd"] == [pytest.approx(200 / 3), pytest.approx(100 / 3), 100.0]
    assert rows["c", REFUND].value is None and rows["c", REFUND].reason == "no data in the 30 days"
    # e is supported but alone in its category.
    assert rows["e", REPLY].points is None
    assert rows["e", REPLY].reason == "1 supported peer(s) in the platform and category, CSMETRICS_MIN_PEERS is 3"
    assert not any(shop == "f" for shop, _ in rows)


def test_the_score_is_the_weighted_mean_of_the_points_and_needs_three_indicators(spark, shops):
    rows = scores(spark, shops)
    # a: (2 x 100 + 75 + 200 / 3) / 4; b: (2 x 100 / 3 + 100 + 100 / 3) / 4.
    assert rows["a", "score"].value == pytest.approx((200 + 75 + 200 / 3) / 4)
    assert rows["b", "score"].value == pytest.approx(50.0)
    assert rows["a", "score"].scored_indicators == 3 and rows["a", "score"].reason is None
    for shop in "cd":
        assert rows[shop, "score"].value is None and rows[shop, "score"].scored_indicators == 2
        assert rows[shop, "score"].reason == "2 of 3 indicators placed among peers; a score needs at least 3"
    assert rows["e", "score"].value is None and rows["e", "score"].scored_indicators == 0


def test_the_lift_is_what_reaching_peer_excellent_would_add_to_the_score(spark, shops):
    rows = scores(spark, shops)
    # b's reply_3min_rate at excellent (0.9) would be not worse than all 3 peers: 100 points
    # instead of 33.3, weighted 2 of 4.
    assert rows["b", REPLY].lift_to_excellent == pytest.approx(2 / 4 * (100 - 100 / 3))
    # Already better than excellent: nothing to gain.
    assert rows["b", DISPUTE].lift_to_excellent == 0.0
    # Excellent refund wait (440 s: P10 of 400, 600, 1200) is not better than a's and b's.
    assert rows["b", REFUND].lift_to_excellent == pytest.approx(1 / 4 * (200 / 3 - 100 / 3))
    assert rows["a", REFUND].lift_to_excellent == 0.0
    # No score, no lift.
    assert rows["c", DISPUTE].points == 25.0 and rows["c", DISPUTE].lift_to_excellent is None


def test_a_row_is_final_once_its_window_and_its_peers_windows_are(spark, shops):
    rows = scores(spark, shops)
    assert {r.maturity for r in rows.values()} == {"final"}
    # reply_3min_rate's slice of D is provisional: every row of every shop with it is, even
    # a shop without reply data (it may still get some).
    rows = scores(spark, shops, final_through={0: D, 1: D - timedelta(days=1)})
    assert {r.maturity for r in rows.values() if r.indicator != DISPUTE and r.indicator != REFUND} == {"provisional"}
    assert rows["a", DISPUTE].maturity == "final"
    # A held-back shop-day of b's dispute rate: b's row, its peers' dispute rows and their
    # scores are provisional; e, in another category, is not.
    rows = scores(spark, shops, unfinished=[(day(10), "b", DISPUTE)])
    assert {rows[s, DISPUTE].maturity for s in "abcd"} == {"provisional"}
    assert {rows[s, "score"].maturity for s in "abcd"} == {"provisional"}
    assert rows["a", REPLY].maturity == "final" and rows["e", "score"].maturity == "final"
    assert rows["b", DISPUTE].denominator == 20.0


def test_the_scores_enter_the_leaderboard_as_experience_score(spark, shops):
    board = {r.shop_id: r for r in leaderboard_rows(
        experience_scores(daily_rows(spark), shops, [D], INDICATORS, {0: D, 1: D},
                          spark.createDataFrame([], UNFINISHED), min_support=10, min_peers=3)
    ).collect()}
    assert sorted(board) == ["a", "b"]
    assert (board["b"].metric, board["b"].segment, board["b"].value) == ("experience_score", "all", pytest.approx(50.0))


def test_a_changed_day_moves_the_scores_of_the_29_days_after_it():
    assert score_dates([D]) == [D + timedelta(days=k) for k in range(30)]
    assert score_dates([D, D + timedelta(days=1)])[-1] == D + timedelta(days=30)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("reply_3min_rate;pickup_rate", "at least 3"),
        ("reply_3min_rate;pickup_rate;consult_sessions", "'consult_sessions' is a count"),
        ("reply_3min_rate;pickup_rate;nope", "unknown metric 'nope'"),
        ("reply_3min_rate:0;pickup_rate;fcr_3d", "must be above 0"),
        ("reply_3min_rate:x;pickup_rate;fcr_3d", "is not a number"),
        ("reply_3min_rate;pickup_rate;reply_3min_rate", "named twice"),
    ],
)
def test_indicators_that_cannot_make_a_score_are_refused(text, error):
    with pytest.raises(ValueError, match=error):
        parse_indicators(text)


def test_the_default_indicators_are_the_five_core_ones_equally_weighted():
    assert parse_indicators(DEFAULT_INDICATORS) == tuple(
        Indicator(m) for m in ("complaint_rate_14d", DISPUTE, "return_refund_wait_seconds", REFUND, REPLY)
    )
    assert parse_indicators("reply_3min_rate:2, pickup_rate, fcr_3d:0.5")[2] == Indicator("fcr_3d", 0.5)


def test_decimal_weights_of_shops_at_the_top_score_exactly_100(spark, shops):
    """Every shop tied at the best value gets 100 points on each indicator; weights of 0.3
    each must not sum their points to a hair above 100 (90 / 0.8999999999999999 in floating
    point; the derived gate would stop)."""
    tied = [(day(31), s, m, "all", 9.0, 10.0, 0.9, "final") for s in "abc" for m in (REPLY, DISPUTE, REFUND)]
    weighted = (Indicator(REPLY, 0.3), Indicator(DISPUTE, 0.3), Indicator(REFUND, 0.3))
    frame = experience_scores(
        spark.createDataFrame(tied, DAILY), shops, [D], weighted, {0: D, 1: D},
        spark.createDataFrame([], UNFINISHED), min_support=5, min_peers=3,
    )
    assert {(r.shop_id, r.value) for r in frame.where("indicator = 'score'").collect()} == {("a", 100.0), ("b", 100.0), ("c", 100.0)}
