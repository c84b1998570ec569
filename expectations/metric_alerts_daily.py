"""Expectations for gold/metric_alerts_daily: what every alert obeys by definition.

Every rule here holds for any input (an alert is raised only beyond the threshold, with the
history it needs, among peers), so only a fault of the job can break one: each blocks the
alerts' MERGE (the table keeps the rows it had; csmetrics.quality.derived_gate).
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from csmetrics.derived.alerts import CRITICAL, HISTORY_DAYS, MIN_HISTORY_DAYS, WARN
from csmetrics.quality.checks import Check, sql_list

KEYS = ["stat_date", "shop_id", "metric", "segment"]


def expectations(dates, metrics: list[str], lower_is_better: list[str], alert_z: float, critical_z: float) -> list[Check]:
    spark = dict(condition_parser="spark")
    lower = f"metric IN ({sql_list(lower_is_better)})"
    # The z-score is signed: an alert's lies beyond the threshold on its metric's bad side.
    bad_side = [
        Check(gxe.ExpectColumnValuesToBeBetween(column="z", min_value=alert_z, strict_min=True, row_condition=lower, **spark)),
        Check(gxe.ExpectColumnValuesToBeBetween(column="z", max_value=-alert_z, strict_max=True, row_condition=f"NOT ({lower})", **spark)),
    ] if lower_is_better else [
        Check(gxe.ExpectColumnValuesToBeBetween(column="z", max_value=-alert_z, strict_max=True)),
    ]
    return [
        Check(gxe.ExpectCompoundColumnsToBeUnique(column_list=KEYS)),
        Check(gxe.ExpectColumnValuesToBeInSet(column="metric", value_set=metrics)),
        Check(gxe.ExpectColumnValuesToBeInSet(column="severity", value_set=[WARN, CRITICAL])),
        Check(gxe.ExpectColumnValuesToBeInSet(column="maturity", value_set=["provisional", "final"])),
        Check(gxe.ExpectColumnValuesToBeInSet(column="stat_date", value_set=[str(d) for d in dates]), cast_to_string="stat_date"),
        Check(gxe.ExpectColumnValuesToBeBetween(column="history_days", min_value=MIN_HISTORY_DAYS, max_value=HISTORY_DAYS)),
        Check(gxe.ExpectColumnValuesToBeBetween(column="peer_percentile", min_value=0, max_value=1)),
        Check(gxe.ExpectColumnValuesToBeBetween(column="peer_shops", min_value=1)),
        *bad_side,
        # A critical alert lies at least the critical threshold away from its baseline.
        Check(gxe.ExpectColumnValuesToBeBetween(column="z", min_value=-critical_z, max_value=critical_z, strict_min=True, strict_max=True,
                                                row_condition=f"severity = '{WARN}'", **spark)),
    ]
