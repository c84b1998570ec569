"""The derived gate (csmetrics.quality.derived_gate): the experience score and the alerts
checked before their MERGEs, on hand-made rows and in a derive."""

from __future__ import annotations

import shutil
from datetime import date, datetime

import pytest
from pyspark.sql import functions as F

from csmetrics.derived import experience
from csmetrics.derived.publish import derive
from csmetrics.plan import RunPlan
from csmetrics.quality.derived_gate import DerivedGate
from csmetrics.quality.gate import QualityGateError
from csmetrics.schemas.gold import EXPERIENCE_SCORE_DAILY, METRIC_ALERTS_DAILY
from tests.integration.test_derive import rows
from tests.integration.warehouses import Warehouse

D = date(2026, 3, 2)
GOVERNED = ["reply_3min_rate", "avg_response_seconds", "pickup_rate", "avg_wait_seconds", "satisfaction_rate"]
RUN = ("final", "r", datetime(2026, 3, 4))


def score_row(indicator, value, points, reason=None, scored=5, shop="s1", weight=1.0):
    window = (None, None) if indicator == "score" else (3.0, 4.0)
    lift = None if points is None or indicator == "score" else 0.0
    direction = "higher"
    return (D, shop, indicator, "douyin", "apparel", *window, value, direction, weight, 4, points, 0.9, lift, scored, reason, *RUN)


def alert_row(metric, z, severity, history=14, percentile=0.0, shop="s1"):
    return (D, shop, metric, "all", 1.0, 2.0, z, history, 1.5, percentile, 4, severity, "explained", *RUN)


def failed(gate, table, frame):
    try:
        gate.check(table, frame, [D])
    except QualityGateError as error:
        return str(error)
    return None


def test_legitimate_edge_values_pass_the_derived_checks(spark, settings):
    """What real data gives at the edges: points of 0 and 100, a score of 0, a score row
    without a score (too few indicators placed), an indicator without peers, an alert at the
    least history, one exactly at the critical threshold, peer percentiles 0 and 1."""
    gate = DerivedGate(spark, settings, "test-run", GOVERNED)
    scores = spark.createDataFrame(
        [
            score_row("reply_3min_rate", 0.2, 0.0),
            score_row("complaint_rate_14d", 0.0, 100.0),
            score_row("refund_only_wait_seconds", None, None, reason="no data in the 30 days"),
            score_row("score", 0.0, None, scored=3),
            score_row("score", None, None, reason="2 of 5 indicators placed among peers; a score needs at least 3", scored=2, shop="s2"),
        ],
        EXPERIENCE_SCORE_DAILY,
    )
    alerts = spark.createDataFrame(
        [
            alert_row("reply_3min_rate", -3.6, "warn"),
            alert_row("avg_wait_seconds", 6.0, "critical", history=28, percentile=1.0),
            alert_row("experience_score", -40.0, "critical"),
        ],
        METRIC_ALERTS_DAILY,
    )
    assert failed(gate, "experience_score_daily", scores) is None
    assert failed(gate, "metric_alerts_daily", alerts) is None


@pytest.mark.parametrize(
    ("table", "bad", "rule"),
    [
        ("experience_score_daily", score_row("reply_3min_rate", 0.2, 100.5), "'column': 'points'"),
        ("experience_score_daily", score_row("score", None, None, scored=2), "'column': 'reason'"),
        ("experience_score_daily", score_row("first_reply_rate", 0.5, 50.0), "'column': 'indicator'"),
        # An improvement is no alert: a higher-is-better metric above its baseline.
        ("metric_alerts_daily", alert_row("pickup_rate", 4.0, "warn"), "'column': 'z'"),
        ("metric_alerts_daily", alert_row("avg_wait_seconds", 7.0, "warn"), "'column': 'z'"),
        ("metric_alerts_daily", alert_row("avg_wait_seconds", 4.0, "warn", history=13), "'column': 'history_days'"),
    ],
)
def test_a_row_no_input_can_give_stops_its_table(spark, settings, table, bad, rule):
    gate = DerivedGate(spark, settings, "test-run", GOVERNED)
    schema = EXPERIENCE_SCORE_DAILY if table == "experience_score_daily" else METRIC_ALERTS_DAILY
    message = failed(gate, table, spark.createDataFrame([bad], schema))
    assert message is not None and message.startswith(f"The derived gate stopped derive before gold/{table}."), message
    assert rule in message and f"gold/{table} keeps the rows it had" in message


def test_derive_stops_before_a_failing_merge_and_records_why(spark, one_day, tmp_path, monkeypatch):
    _, landing, published = one_day
    shutil.copytree(published.warehouse, tmp_path / "warehouse")
    computed = experience.experience_scores
    monkeypatch.setattr(experience, "experience_scores", lambda *a, **k: computed(*a, **k).withColumn("points", F.lit(120.0)))
    with Warehouse(tmp_path, landing) as settings:
        before = rows(spark, settings, "experience_score_daily")
        with pytest.raises(QualityGateError, match="'column': 'points'"):
            derive(spark, settings, RunPlan(D).metrics_by_date(), "derive-broken", D)
        assert rows(spark, settings, "experience_score_daily") == before
        recorded = spark.read.format("delta").load(settings.table_path("quality", "validation_results")).where("run_id = 'derive-broken'")
        assert recorded.where("NOT success").select("table").distinct().collect() == [("gold/experience_score_daily",)]
