"""Expectations for gold/shop_metrics_daily: metric rows, cross-metric rules, coverage, volume."""

from __future__ import annotations

import great_expectations.expectations as gxe

from csmetrics.expectations.metric_rows import metric_row_checks
from csmetrics.quality.checks import (
    COVERAGE,
    PER_SHOP_DAY,
    PLATFORM_VOLUME,
    SHOP_DAY,
    SHOP_VOLUME,
    WARNING,
    Check,
)

KEYS = ["stat_date", "shop_id", "metric", "segment"]


def expectations(dates, volume_anomaly_factor: float, volume_collapse_factor: float = 10.0) -> list[Check]:
    within_factor = dict(min_value=1 / volume_anomaly_factor, max_value=volume_anomaly_factor)
    return metric_row_checks(KEYS, dates) + [
        Check(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="transfer_sessions", column_B="received_sessions", or_equal=True
            ),
            PER_SHOP_DAY,
            scope=SHOP_DAY,
        ),
        # A shop with non-filtered sessions on D and no conversation rows lost data on the
        # way. (A shop whose only sessions were spam or internal has none to have.)
        Check(gxe.ExpectColumnValuesToBeInSet(column="has_conversation_rows", value_set=[True]), COVERAGE, scope=SHOP_DAY),
        # Volume shifts are worth a look, not a reason to hold the numbers: warnings.
        Check(gxe.ExpectColumnValuesToBeBetween(column="ratio_to_trailing_median", **within_factor, severity=WARNING), SHOP_VOLUME),
        Check(gxe.ExpectColumnValuesToBeBetween(column="ratio_to_trailing_median", **within_factor, severity=WARNING), PLATFORM_VOLUME),
        # A platform-wide collapse is lost input (files missing upstream), not a quiet day:
        # holidays move volume by far less than this factor. It blocks the publish.
        Check(gxe.ExpectColumnValuesToBeBetween(column="ratio_to_trailing_median", min_value=1 / volume_collapse_factor), PLATFORM_VOLUME),
    ]
