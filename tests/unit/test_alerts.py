"""Alerts on hand-made series (docs/derived.md, "Alerts")."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from csmetrics.derived.alerts import alert_dates, metric_alerts

D = date(2026, 3, 31)
VALUES = "stat_date date, shop_id string, metric string, segment string, value double, support double, maturity string, numerator double, denominator double"
REPLY, RESPONSE = "reply_3min_rate", "avg_response_seconds"


def rate(day, shop, value, denominator=100.0, metric=REPLY, maturity="final"):
    return (day, shop, metric, "all", value, float(denominator), maturity, value * denominator, float(denominator))


def noisy(shop, days=28, metric=REPLY, level=0.90, step=0.01):
    """`days` days before D: level, level + step, level + 2 step, again and again (D - 1 at level)."""
    return [rate(D - timedelta(days=days - k), shop, level + step * ((k + (28 - days)) % 3), metric=metric) for k in range(days)]


@pytest.fixture(scope="module")
def shops(spark):
    return spark.createDataFrame(
        [(f"s{i}", "p1", "beauty", "L1") for i in range(1, 7)] + [("o1", "p1", "beauty", "L2")],
        "shop_id string, platform string, category string, tier string",
    )


def alerts(spark, shops, rows, metrics=(REPLY,)):
    frame = metric_alerts(spark.createDataFrame(rows, VALUES), shops, [D], list(metrics), min_support=10, min_peers=3,
                          z_threshold=3.5, critical_z=6.0)
    return {(r.shop_id, r.metric): r for r in frame.collect()}


def test_one_jump_in_a_noisy_series_gives_exactly_one_alert(spark, shops):
    rows = [
        *noisy("s1"), rate(D, "s1", 0.60),  # the jump
        *noisy("s2"), rate(D, "s2", 0.91),  # as usual
        *noisy("s3"), rate(D, "s3", 1.00),  # better than ever: an improvement
        *noisy("s4", days=13), rate(D, "s4", 0.50),  # too little history
        *noisy("s5"), rate(D, "s5", 0.10, denominator=5),  # no support on D
    ]
    found = alerts(spark, shops, rows)
    assert list(found) == [("s1", REPLY)]
    alert = found["s1", REPLY]
    # 10 days at 0.90, 9 at 0.91, 9 at 0.92: median 0.91, MAD 0.01.
    assert alert.baseline == pytest.approx(0.91) and alert.history_days == 28
    assert alert.z == pytest.approx((0.60 - 0.91) / (1.4826 * 0.01))  # -20.9
    assert alert.severity == "critical"
    # Peers on D (supported): 0.5, 0.6, 0.91, 1.0; P60 interpolated 0.6 + 0.8 x 0.31.
    assert alert.peer_average == pytest.approx(0.848) and alert.peer_shops == 4
    assert alert.peer_percentile == 0.5  # s1 and s4 are not better than 0.6
    assert alert.explanation == "reply_3min_rate fell from 0.9 to 0.6 since the day before: numerator effect -0.3, denominator effect +0.0"
    assert alert.maturity == "final" and alert.stat_date == D
    # A shop of another tier is no peer of the metric (its benchmarks' groups).
    assert alerts(spark, shops, [*rows, rate(D, "o1", 0.1)])["s1", REPLY].peer_shops == 4


def test_a_drop_within_its_peers_average_or_within_the_noise_raises_none(spark, shops):
    rows = [
        # A wide-band shop: 0.5, 0.7, 0.9 (MAD 0.2): 0.45 is within 3.5 robust sigmas.
        *noisy("s1", level=0.5, step=0.2), rate(D, "s1", 0.45),
        # A steady shop whose drop leaves it above its peers' average.
        *noisy("s2"), rate(D, "s2", 0.80),
        rate(D, "s3", 0.2), rate(D, "s4", 0.3), rate(D, "s5", 0.4),
    ]
    assert alerts(spark, shops, rows) == {}


def test_an_improvement_raises_none_even_below_the_peers(spark, shops):
    # 0.30 .. 0.32 for four weeks, then 0.45: z = +9.4, still under the peers' 0.928.
    rows = [*noisy("s1", level=0.30), rate(D, "s1", 0.45), rate(D, "s2", 0.91), rate(D, "s3", 1.0)]
    assert alerts(spark, shops, rows) == {}


def test_lower_is_better_alerts_on_a_rise_and_warns_below_the_critical_z(spark, shops):
    # Response seconds 100, 110, 120 ...: median 110, MAD 10; 170 s is z = 60 / 14.826 = 4.05.
    rows = [
        *noisy("s1", metric=RESPONSE, level=100.0, step=10.0), rate(D, "s1", 170.0, metric=RESPONSE),
        rate(D, "s2", 90.0, metric=RESPONSE), rate(D, "s3", 100.0, metric=RESPONSE),
    ]
    found = alerts(spark, shops, rows, metrics=(RESPONSE,))
    assert list(found) == [("s1", RESPONSE)]
    assert found["s1", RESPONSE].z == pytest.approx(60 / 14.826) and found["s1", RESPONSE].severity == "warn"
    # A peer's value that can still change can still move the alert.
    rows[-1] = rate(D, "s3", 100.0, metric=RESPONSE, maturity="provisional")
    assert alerts(spark, shops, rows, metrics=(RESPONSE,))["s1", RESPONSE].maturity == "provisional"


def test_a_shop_that_never_waited_does_not_alert_on_one_second(spark, shops):
    # A median and a MAD of 0 s: the band is at least a second wide, so 1 s is z = 1.
    rows = [*[rate(D - timedelta(days=k), "s1", 0.0, metric="avg_wait_seconds") for k in range(1, 29)],
            rate(D, "s1", 1.0, metric="avg_wait_seconds"), rate(D, "s2", 0.0, metric="avg_wait_seconds"),
            rate(D, "s3", 0.0, metric="avg_wait_seconds")]
    assert alerts(spark, shops, rows, metrics=("avg_wait_seconds",)) == {}


def test_a_changed_day_moves_the_alerts_of_the_28_days_after_it():
    assert alert_dates([D]) == [D + timedelta(days=k) for k in range(29)]
