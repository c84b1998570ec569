"""Expectations for gold/agent_metrics_daily: the rules every metric row obeys."""

from __future__ import annotations

from csmetrics.expectations.metric_rows import metric_row_checks
from csmetrics.quality.checks import Check

KEYS = ["stat_date", "shop_id", "agent_id", "metric", "segment"]


def expectations(dates, volume_anomaly_factor: float, volume_collapse_factor: float = 10.0) -> list[Check]:
    return metric_row_checks(KEYS, dates)
