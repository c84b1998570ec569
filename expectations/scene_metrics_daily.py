"""Expectations for gold/scene_metrics_daily: the rules every scene row obeys by definition.

Keys, names, levels, maturity labels and the run's dates can only be wrong by a fault of
the job: they block the publish. Every scene row is a proportion of a positive denominator
(a share of the shop's sessions or a rate); a value out of [0, 1] holds back that shop-day.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from csmetrics.metrics.scenes import LEVELS, SCENE_KEYS
from csmetrics.quality.checks import SHOP_DAY, Check

KEYS = [*SCENE_KEYS, "metric"]
SCENE_METRICS = ["consult_sessions", "satisfaction_rate", "fcr_3d", "resolution_rate_15d"]
SEGMENTS = ["all", "human", "bot", "presale", "aftersale"]


def expectations(dates, volume_anomaly_factor: float, volume_collapse_factor: float = 10.0) -> list[Check]:
    return [
        Check(gxe.ExpectCompoundColumnsToBeUnique(column_list=KEYS)),
        Check(gxe.ExpectColumnValuesToBeInSet(column="metric", value_set=SCENE_METRICS)),
        Check(gxe.ExpectColumnValuesToBeInSet(column="segment", value_set=SEGMENTS)),
        Check(gxe.ExpectColumnValuesToBeInSet(column="scene_level", value_set=list(LEVELS))),
        Check(gxe.ExpectColumnValuesToBeInSet(column="maturity", value_set=["provisional", "final"])),
        Check(gxe.ExpectColumnValuesToBeInSet(column="stat_date", value_set=[str(d) for d in dates]), cast_to_string="stat_date"),
        Check(gxe.ExpectColumnValuesToBeBetween(column="value", min_value=0, max_value=1), scope=SHOP_DAY),
        Check(gxe.ExpectColumnValuesToBeBetween(column="denominator", min_value=0, strict_min=True), scope=SHOP_DAY),
    ]
