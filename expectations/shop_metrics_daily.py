"""Expectations for gold/shop_metrics_daily."""

from __future__ import annotations

import great_expectations.expectations as gxe

from csmetrics.expectations.metric_rows import metric_row_checks
from csmetrics.quality.checks import CRITICAL, PER_SHOP_DAY, Check

KEYS = ["stat_date", "shop_id", "metric", "segment"]


def expectations(dates) -> list[Check]:
    return metric_row_checks(KEYS, dates) + [
        Check(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="transfer_sessions", column_B="received_sessions", or_equal=True
            ),
            CRITICAL,
            PER_SHOP_DAY,
        ),
    ]
