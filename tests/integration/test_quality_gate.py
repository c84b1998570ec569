"""The gold gate stops bad rows and says which expectation failed on which rows."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from csmetrics.quality.gate import QualityGateError, raise_on_critical, validate
from csmetrics.schemas.gold import SHOP_METRICS_DAILY

D = date(2026, 3, 2)


def row(metric, numerator, denominator, value, shop="s1", day=D):
    return (day, shop, metric, "all", numerator, denominator, value, "provisional", datetime(2026, 3, 3, 16), "v1", "r", datetime(2026, 3, 4))


def test_good_rows_pass(spark):
    rows = spark.createDataFrame(
        [row("transfer_sessions", 3.0, None, 3.0), row("received_sessions", 2.0, None, 2.0), row("pickup_rate", 2.0, 3.0, 2 / 3)],
        SHOP_METRICS_DAILY,
    )
    results = validate("shop_metrics_daily", rows, [D])
    assert results and all(r.success for r in results)
    raise_on_critical(results)


def test_out_of_range_and_inconsistent_rows_are_stopped(spark):
    rows = spark.createDataFrame(
        [
            row("transfer_sessions", 2.0, None, 2.0),
            row("received_sessions", 3.0, None, 3.0),  # more received than transferred
            row("pickup_rate", 3.0, 2.0, 1.5),  # a rate above 1
            row("pickup_rate", 1.0, 1.0, 1.0, day=date(2026, 3, 9)),  # a date the run does not own
        ],
        SHOP_METRICS_DAILY,
    )
    results = validate("shop_metrics_daily", rows, [D])
    failed = sorted(r.name for r in results if not r.success)
    assert failed == [
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
    ]
    with pytest.raises(QualityGateError) as failure:
        raise_on_critical(results)
    message = str(failure.value)
    assert "nothing was published" in message
    assert "shop_metrics_daily: expect_column_values_to_be_between" in message and "[1.5]" in message
