"""Weekly rollups, governance, peer benchmarks and leaderboards on hand-made daily rows, and
what a run's slices make derive recompute."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from csmetrics.derived.benchmarks import leaderboard, peer_benchmarks, supported
from csmetrics.derived.experience import DEFAULT_INDICATORS, parse_indicators
from csmetrics.derived.publish import _final_by_window, changed_slices, dates_of, every_metric, floored_by_run
from csmetrics.derived.weekly import (
    DEFAULT_THRESHOLDS,
    Threshold,
    governance_rows,
    latest_final_days,
    monthly_rows,
    parse_thresholds,
    weekly_rows,
)
from csmetrics.metrics.scenes import SCENE_COLUMNS
from csmetrics.plan import RunPlan

MONDAY = date(2026, 3, 2)
DAILY = "stat_date date, shop_id string, metric string, segment string, numerator double, denominator double, value double, maturity string"
SHOPS = "shop_id string, platform string, category string, tier string"


def daily(spark, rows):
    return spark.createDataFrame(
        [(d, s, m, seg, n, den, (n / den if den else n), mat) for d, s, m, seg, n, den, mat in rows], DAILY
    )


def test_weekly_rate_is_summed_numerators_over_summed_denominators(spark):
    rows = daily(spark, [
        (MONDAY, "s1", "pickup_rate", "all", 1.0, 1.0, "final"),  # 100 %
        (MONDAY + timedelta(days=1), "s1", "pickup_rate", "all", 1.0, 9.0, "final"),  # 11 %
        (MONDAY, "s1", "consult_sessions", "all", 4.0, None, "final"),
        (MONDAY + timedelta(days=6), "s1", "consult_sessions", "all", 6.0, None, "final"),
    ])
    weekly = {r.metric: r for r in weekly_rows(rows, finality(rows)).collect()}
    # 2 / 10 = 0.2, not the mean of the daily rates (0.556).
    assert (weekly["pickup_rate"].numerator, weekly["pickup_rate"].denominator, weekly["pickup_rate"].value) == (2.0, 10.0, 0.2)
    assert (weekly["consult_sessions"].value, weekly["consult_sessions"].denominator) == (10.0, None)
    assert weekly["pickup_rate"].week_start == MONDAY and weekly["pickup_rate"].days_with_data == 2
    # consult_sessions is final through Sunday, pickup_rate only through Tuesday.
    assert (weekly["consult_sessions"].maturity, weekly["pickup_rate"].maturity) == ("final", "provisional")


def test_a_month_is_summed_like_a_week_and_final_once_its_last_day_is(spark):
    rows = daily(spark, [
        (date(2026, 2, 27), "s1", "pickup_rate", "all", 1.0, 1.0, "final"),
        (date(2026, 2, 28), "s1", "pickup_rate", "all", 1.0, 9.0, "final"),  # February's last day
        (date(2026, 3, 1), "s1", "pickup_rate", "all", 3.0, 3.0, "provisional"),
        (date(2026, 3, 1), "s1", "consult_sessions", "all", 5.0, None, "final"),
    ])
    monthly = {(r.month_start, r.metric): r for r in monthly_rows(rows, finality(rows)).collect()}
    february, march = monthly[(date(2026, 2, 1), "pickup_rate")], monthly[(date(2026, 3, 1), "pickup_rate")]
    # 2 / 10, not the mean of 100 % and 11 %; every day of February is final.
    assert (february.numerator, february.denominator, february.value, february.days_with_data, february.maturity) == (2.0, 10.0, 0.2, 2, "final")
    assert (march.value, march.maturity) == (1.0, "provisional")
    # Final through 1 March, but March has 30 more days.
    assert monthly[(date(2026, 3, 1), "consult_sessions")].maturity == "provisional"


def finality(rows) -> dict:
    """{metric: its latest final day} over every row, as derive collects it."""
    return {r.metric: r.rows for r in latest_final_days(rows, {"rows": (date(2000, 1, 1), date(2100, 1, 1))}).collect() if r.rows is not None}


def test_each_horizon_is_final_through_its_own_latest_final_day(spark):
    rows = daily(spark, [
        (MONDAY, "s1", "pickup_rate", "all", 1.0, 1.0, "final"),
        (MONDAY + timedelta(days=3), "s1", "pickup_rate", "all", 1.0, 1.0, "final"),
        (MONDAY + timedelta(days=4), "s1", "pickup_rate", "all", 1.0, 1.0, "provisional"),
        (MONDAY + timedelta(days=9), "s1", "consult_sessions", "all", 2.0, None, "final"),
        (MONDAY + timedelta(days=20), "s1", "consult_sessions", "all", 2.0, None, "final"),  # outside both horizons
    ])
    horizons = {"week": (MONDAY, MONDAY + timedelta(days=6)), "month": (MONDAY + timedelta(days=2), MONDAY + timedelta(days=12))}
    latest = {r.metric: (r.week, r.month) for r in latest_final_days(rows, horizons).collect()}
    assert latest == {"pickup_rate": (MONDAY + timedelta(days=3), MONDAY + timedelta(days=3)), "consult_sessions": (None, MONDAY + timedelta(days=9))}


def test_a_week_of_a_metric_with_no_final_day_is_provisional(spark):
    rows = daily(spark, [
        (MONDAY + timedelta(days=day), "s1", metric, "all", 1.0, 1.0, "final") for day in range(7) for metric in ("pickup_rate", "reply_3min_rate")
    ])
    for known in ({"pickup_rate": MONDAY + timedelta(days=6)}, {}):
        maturity = {r.metric: r.maturity for r in weekly_rows(rows, known).collect()}
        # reply_3min_rate is missing from what is known to be final: its week waits.
        assert maturity == {"pickup_rate": "final" if known else "provisional", "reply_3min_rate": "provisional"}


def test_governance_at_the_exact_thresholds_and_without_data(spark):
    def week(shop, **values):
        return [(MONDAY, shop, metric, "all", value, 1.0, "final") for metric, value in values.items()]

    rows = daily(spark, [
        # Exactly on every threshold: >= passes, <= passes, < 600 fails at 600.
        *week("edge", reply_3min_rate=0.90, avg_response_seconds=120.0, pickup_rate=0.80, avg_wait_seconds=600.0, satisfaction_rate=0.80),
        # Every threshold met, but nobody rated the shop: no_data, not fail.
        *week("unrated", reply_3min_rate=0.95, avg_response_seconds=30.0, pickup_rate=0.9, avg_wait_seconds=599.0),
        *week("good", reply_3min_rate=1.0, avg_response_seconds=10.0, pickup_rate=1.0, avg_wait_seconds=5.0, satisfaction_rate=1.0),
    ])
    weekly = weekly_rows(rows, finality(rows))
    result = {(r.shop_id, r.metric): (r.status, r.overall_status) for r in governance_rows(weekly, DEFAULT_THRESHOLDS).collect()}
    assert result[("edge", "reply_3min_rate")] == ("pass", "fail")
    assert result[("edge", "avg_response_seconds")][0] == "pass"
    assert result[("edge", "pickup_rate")][0] == "pass"
    assert result[("edge", "avg_wait_seconds")][0] == "fail"
    assert result[("edge", "satisfaction_rate")][0] == "pass"
    assert result[("unrated", "satisfaction_rate")] == ("no_data", "no_data")
    assert result[("unrated", "avg_wait_seconds")] == ("pass", "no_data")
    assert {status for (shop, _), status in result.items() if shop == "good"} == {("pass", "pass")}


def test_thresholds_are_configurable():
    assert parse_thresholds("pickup_rate>=0.7; avg_wait_seconds<300") == (
        Threshold("pickup_rate", ">=", 0.7), Threshold("avg_wait_seconds", "<", 300.0))
    with pytest.raises(ValueError, match="unknown metric"):
        parse_thresholds("pick_rate>=0.7")


def test_a_metric_named_twice_in_the_thresholds_is_refused():
    # Governance rows are keyed by (week, shop, metric): a second threshold would make two rows of one key.
    with pytest.raises(ValueError, match="'pickup_rate' is named twice in the governance thresholds"):
        parse_thresholds("pickup_rate>=0.7; avg_wait_seconds<300; pickup_rate < 0.99")


PEER_VALUES = [0.10, 0.35, 0.35, 0.50, 0.62, 0.70, 0.81, 0.90, 0.97]


@pytest.fixture
def peer_rows(spark):
    """Nine food shops of one tier with enough support, one below the minimum, one other tier."""
    shops = spark.createDataFrame(
        [(f"s{i}", "tmall", "food", "L1") for i in range(10)] + [("t0", "tmall", "food", "L2")], SHOPS
    )
    rows = [(MONDAY, f"s{i}", metric, "all", v * 20, 20.0, "final") for i, v in enumerate(PEER_VALUES)
            for metric in ("pickup_rate",)]
    rows += [(MONDAY, f"s{i}", "avg_wait_seconds", "all", v * 1000 * 20, 20.0, "final") for i, v in enumerate(PEER_VALUES)]
    rows += [(MONDAY, "s9", "pickup_rate", "all", 0.0, 5.0, "final"),  # support 5 < 10: no peer
             (MONDAY, "t0", "pickup_rate", "all", 10.0, 10.0, "provisional")]
    return supported(daily(spark, rows), shops, min_support=10)


def test_peer_benchmarks_match_numpy_in_both_directions(peer_rows):
    result = {(r.tier, r.metric): r for r in peer_benchmarks(peer_rows, min_peers=1).collect()}
    higher = result[("L1", "pickup_rate")]
    assert higher.peer_shops == 9  # s9 lacks support
    assert higher.peer_average == pytest.approx(np.percentile(PEER_VALUES, 60))
    assert higher.peer_excellent == pytest.approx(np.percentile(PEER_VALUES, 90))
    lower = result[("L1", "avg_wait_seconds")]
    waits = [v * 1000 for v in PEER_VALUES]
    assert lower.direction == "lower_is_better"
    assert lower.peer_average == pytest.approx(np.percentile(waits, 40))
    assert lower.peer_excellent == pytest.approx(np.percentile(waits, 10))
    # Allowed groups of one (min_peers=1), a tier with a single shop is its own peer group.
    assert (result[("L2", "pickup_rate")].peer_shops, result[("L2", "pickup_rate")].peer_average) == (1, 1.0)
    assert result[("L2", "pickup_rate")].maturity == "provisional" and higher.maturity == "final"


# Tier L5 has five supported shops, L4 four, L1 one; tier F5 has five shops of which one lacks
# support (denominator 5 < 10), so four peers. All tmall food.
GROUP_OF_FIVE_RATES = [0.5, 0.6, 0.7, 0.8, 1.0]
GROUP_OF_FIVE_WAITS = [30.0, 60.0, 90.0, 120.0, 300.0]
TIERS = {"L5": 5, "L4": 4, "L1": 1, "F5": 5}
PEERS = {"L5": 5, "L4": 4, "L1": 1, "F5": 4}


@pytest.fixture
def groups_of_1_4_and_5(spark):
    shops = spark.createDataFrame(
        [(f"{tier}-{i}", "tmall", "food", tier) for tier, size in TIERS.items() for i in range(size)], SHOPS
    )
    rows = []
    for tier, size in TIERS.items():
        for i in range(size):
            support = 5.0 if (tier, i) == ("F5", 0) else 20.0
            rows.append((MONDAY, f"{tier}-{i}", "pickup_rate", "all", GROUP_OF_FIVE_RATES[i] * support, support, "final"))
            rows.append((MONDAY, f"{tier}-{i}", "avg_wait_seconds", "all", GROUP_OF_FIVE_WAITS[i] * support, support, "final"))
    return supported(daily(spark, rows), shops, min_support=10)


@pytest.mark.parametrize(("min_peers", "tiers"), [(5, {"L5"}), (4, {"L5", "L4", "F5"}), (1, {"L5", "L4", "L1", "F5"})])
def test_only_groups_of_at_least_min_peers_supported_shops_get_a_benchmark(groups_of_1_4_and_5, min_peers, tiers):
    result = {(r.tier, r.metric): r.peer_shops for r in peer_benchmarks(groups_of_1_4_and_5, min_peers).collect()}
    assert result == {(tier, metric): PEERS[tier] for tier in tiers for metric in ("pickup_rate", "avg_wait_seconds")}


def test_a_group_of_five_gets_its_percentiles(groups_of_1_4_and_5):
    result = {r.metric: r for r in peer_benchmarks(groups_of_1_4_and_5, min_peers=5).collect()}
    # Rates 0.5 0.6 0.7 0.8 1.0: P60 at rank 0.6 x 4 = 2.4 -> 0.7 + 0.4 x 0.1; P90 at 3.6 -> 0.8 + 0.6 x 0.2.
    assert (result["pickup_rate"].peer_shops, result["pickup_rate"].peer_average, result["pickup_rate"].peer_excellent) == (
        5, pytest.approx(0.74), pytest.approx(0.92))
    # Waits 30 60 90 120 300 (lower is better): P40 at 1.6 -> 60 + 0.6 x 30; P10 at 0.4 -> 30 + 0.4 x 30.
    assert (result["avg_wait_seconds"].peer_average, result["avg_wait_seconds"].peer_excellent) == (pytest.approx(78.0), pytest.approx(42.0))


SCENE_DAILY = DAILY.replace("shop_id string,", "shop_id string, scene_level int, scene string, scene_l1 string, scene_l2 string, scene_l3 string,")


def test_scene_benchmarks_only_for_groups_of_at_least_min_peers(spark):
    """Five shops rate the scene `refund / late / where`, four `order / size / which`, one `order / size / fit`."""
    shops = spark.createDataFrame([(f"s{i}", "tmall", "food", "L1") for i in range(5)], SHOPS)
    scenes = {"refund / late / where": 5, "order / size / which": 4, "order / size / fit": 1}
    rows = [
        (MONDAY, f"s{i}", 3, scene, *scene.split(" / "), "satisfaction_rate", "all", GROUP_OF_FIVE_RATES[i] * 10, 10.0,
         GROUP_OF_FIVE_RATES[i], "final")
        for scene, size in scenes.items() for i in range(size)
    ]
    rated = supported(spark.createDataFrame(rows, SCENE_DAILY), shops, min_support=10)
    result = {r.scene: r for r in peer_benchmarks(rated, 5, within=SCENE_COLUMNS).collect()}
    assert list(result) == ["refund / late / where"]
    benchmark = result["refund / late / where"]
    assert (benchmark.scene_l3, benchmark.peer_shops, benchmark.peer_average, benchmark.peer_excellent) == (
        "where", 5, pytest.approx(0.74), pytest.approx(0.92))
    assert {r.scene for r in peer_benchmarks(rated, 4, within=SCENE_COLUMNS).collect()} == {"refund / late / where", "order / size / which"}


def test_leaderboard_ranks_best_first_with_shared_ranks_for_ties(peer_rows):
    board = leaderboard(peer_rows.where("metric = 'pickup_rate'"))
    ordered = [(r.rank, r.shop_id, r.value, r.percentile) for r in board.orderBy("rank", "shop_id").collect()]
    # 10 ranked shops of the category (tiers together): t0 (1.0) first, the two 0.35 share rank 8.
    assert [(rank, shop) for rank, shop, _, _ in ordered] == [
        (1, "t0"), (2, "s8"), (3, "s7"), (4, "s6"), (5, "s5"), (6, "s4"), (7, "s3"), (8, "s1"), (8, "s2"), (10, "s0")]
    percentiles = {shop: p for _, shop, _, p in ordered}
    assert percentiles["t0"] == 1.0 and percentiles["s0"] == 0.0
    assert percentiles["s1"] == percentiles["s2"] == pytest.approx(2 / 9)
    waits = leaderboard(peer_rows.where("metric = 'avg_wait_seconds'")).orderBy("rank", "shop_id").collect()
    assert [r.shop_id for r in waits][:2] == ["s0", "s1"]  # lower is better: the shortest wait first


def test_a_daily_runs_slices_move_scores_and_alerts_of_two_dates_only():
    """The run for R publishes R - 15 ... R, but only R - 1 and R hold an indicator or a
    governed metric (windows 0 and 1): the delayed dates move benchmarks, not scores."""
    run = RunPlan(MONDAY).metrics_by_date()
    assert len(run) == 16 and run[MONDAY - timedelta(days=4)] == ["resolution_rate_15d"]
    assert dates_of(run, [i.metric for i in parse_indicators(DEFAULT_INDICATORS)]) == [MONDAY - timedelta(days=1), MONDAY]
    assert dates_of(run, [t.metric for t in DEFAULT_THRESHOLDS]) == [MONDAY - timedelta(days=1), MONDAY]
    # A settled held-back day weeks back counts with every metric.
    settled = MONDAY - timedelta(days=40)
    both = changed_slices(run, every_metric([settled]))
    assert dates_of(both, ["reply_3min_rate"]) == [settled, MONDAY - timedelta(days=1), MONDAY]
    assert both[MONDAY - timedelta(days=3)] == sorted(run[MONDAY - timedelta(days=3)])


def test_a_window_is_final_through_the_run_date_less_the_window_without_a_row_showing_it():
    """The score of a day no metric of a window has a row on (no ticket closed platform-wide)
    is final once the run for day + window has run, as every slice of the window is."""
    rows_show = {"pickup_rate": MONDAY - timedelta(days=3), "dispute_merchant_rate": MONDAY - timedelta(days=2)}
    assert _final_by_window(rows_show) == {1: MONDAY - timedelta(days=3), 0: MONDAY - timedelta(days=2)}
    by_run = _final_by_window(floored_by_run(rows_show, as_of=MONDAY))
    assert by_run[0] == MONDAY and by_run[1] == MONDAY - timedelta(days=1) and by_run[3] == MONDAY - timedelta(days=3)
    assert by_run[15] == MONDAY - timedelta(days=15)
