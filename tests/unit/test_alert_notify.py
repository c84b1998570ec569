"""The alert consumer: each new alert once, through the notifier (no Spark: delta-rs)."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
from deltalake import write_deltalake

from csmetrics.alert_notify import AlertFileNotifier, alert_line, notify_new_alerts
from csmetrics.config import Settings


def alert(day: int, shop: str, value: float) -> dict:
    return {
        "stat_date": date(2026, 3, day), "shop_id": shop, "metric": "reply_3min_rate", "segment": "all", "value": value,
        "baseline": 0.91, "z": -20.9, "history_days": 28, "peer_average": 0.848, "peer_percentile": 0.5, "peer_shops": 4,
        "severity": "critical", "explanation": "reply_3min_rate fell from 0.9 to 0.6 since the day before", "maturity": "provisional",
        "run_id": "r", "computed_at": datetime(2026, 3, 6, 14),
    }


def test_each_new_alert_is_sent_once_through_the_notifier(tmp_path, monkeypatch):
    monkeypatch.setenv("CSMETRICS_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("CSMETRICS_EXPORT_DIR", str(tmp_path / "exports"))
    settings = Settings.from_env()
    path = settings.table_path("gold", "metric_alerts_daily")
    write_deltalake(path, pa.Table.from_pylist([alert(5, "s1", 0.6)]), configuration={"delta.enableChangeDataFeed": "true"})
    log = tmp_path / "alerts.log"
    send = lambda: notify_new_alerts(settings, lambda: AlertFileNotifier(str(log)), {}, progress=lambda message: None)  # noqa: E731

    assert send() == 1
    write_deltalake(path, pa.Table.from_pylist([alert(6, "s2", 0.5)]), mode="append")
    assert send() == 1
    assert send() == 0
    # A backfill raises alerts on dates weeks back and on the newest date: the open one is sent.
    write_deltalake(path, pa.Table.from_pylist([alert(12, "s3", 0.4), alert(5, "s4", 0.4)]), mode="append")
    assert send() == 1
    assert log.read_text().splitlines() == [alert_line(a) for a in (alert(5, "s1", 0.6), alert(6, "s2", 0.5), alert(12, "s3", 0.4))]
    assert log.read_text().splitlines()[0] == (
        "csmetrics alert (critical) 2026-03-05 shop s1 reply_3min_rate [all]: 0.6 against its median 0.91 (z -20.9), "
        "peer percentile 50%, provisional. reply_3min_rate fell from 0.9 to 0.6 since the day before"
    )
