"""Trend series on hand-made gold rows: the windows' borders and each change worked out."""

from __future__ import annotations

from datetime import date

import pytest

from csmetrics.derived.trends import trend_series

AS_OF = date(2026, 3, 11)  # a Wednesday; its week starts on Monday 9 March
DAILY = "stat_date date, shop_id string, metric string, segment string, value double, maturity string"
WEEKLY = "week_start date, shop_id string, metric string, segment string, value double, maturity string"
MONTHLY = "month_start date, shop_id string, metric string, segment string, value double, maturity string"


@pytest.fixture(scope="module")
def series(spark):
    def rows(schema, values):
        return spark.createDataFrame([(day, "s1", "pickup_rate", "all", value, maturity) for day, value, maturity in values], schema)

    daily = rows(DAILY, [
        (date(2026, 2, 9), 0.9, "final"),  # before the 30 days (10 Feb .. 11 Mar)
        (date(2026, 2, 10), 0.5, "final"),  # first day: its day before is 9 Feb
        (date(2026, 3, 7), 0.4, "final"),  # no row on 6 Mar: no change
        (date(2026, 3, 10), 0.5, "final"),
        (date(2026, 3, 11), 0.6, "provisional"),
        (date(2026, 3, 12), 0.7, "provisional"),  # after as_of
    ])
    weekly = rows(WEEKLY, [
        (date(2025, 12, 15), 0.1, "final"),  # the week before the 12 (22 Dec .. 9 Mar)
        (date(2025, 12, 22), 0.2, "final"),
        (date(2026, 3, 2), 0.8, "final"),
        (date(2026, 3, 9), 0.6, "provisional"),
    ])
    monthly = rows(MONTHLY, [
        (date(2025, 3, 1), 0.3, "final"),  # before the 12 months (Apr 2025 .. Mar 2026)
        (date(2025, 4, 1), 0.6, "final"),
        (date(2026, 2, 1), 0.0, "final"),
        (date(2026, 3, 1), 0.7, "provisional"),
    ])
    found = trend_series(daily, weekly, monthly, AS_OF).collect()
    return {(r.grain, r.period_start): (r.value, r.maturity, r.previous_value, r.change) for r in found}


def test_days_weeks_and_months_in_their_windows(series):
    assert sorted(day for grain, day in series if grain == "day") == [date(2026, 2, 10), date(2026, 3, 7), date(2026, 3, 10), date(2026, 3, 11)]
    assert sorted(day for grain, day in series if grain == "week") == [date(2025, 12, 22), date(2026, 3, 2), date(2026, 3, 9)]
    assert sorted(day for grain, day in series if grain == "month") == [date(2025, 4, 1), date(2026, 2, 1), date(2026, 3, 1)]


def test_each_change_is_against_the_period_just_before(series):
    assert series[("day", date(2026, 3, 11))] == (0.6, "provisional", 0.5, pytest.approx(0.2))
    assert series[("day", date(2026, 2, 10))][2:] == (0.9, pytest.approx(-4 / 9))
    # 6 March has no row: no change, rather than one against 10 days earlier.
    assert series[("day", date(2026, 3, 7))][2:] == (None, None)
    assert series[("week", date(2026, 3, 9))][2:] == (0.8, pytest.approx(-0.25))
    assert series[("week", date(2025, 12, 22))][2:] == (0.1, pytest.approx(1.0))
    # Against 0 there is no relative change.
    assert series[("month", date(2026, 3, 1))][2:] == (0.0, None)
    assert series[("month", date(2025, 4, 1))][2:] == (0.3, pytest.approx(1.0))
