"""csmetrics_alert_notify: send each new alert of gold/metric_alerts_daily, whenever it changes.

Scheduled on the alerts table's Airflow Asset (csmetrics.gold.metric_alerts_daily), which the
run task of csmetrics_daily and the derive task of csmetrics_backfill update. New alerts are
the rows inserted since the last notification (csmetrics.alert_notify). Each goes through
NOTIFIER: by default one line per alert in <CSMETRICS_EXPORT_DIR>/alerts/alerts.log and in
the task log. To page a channel instead, return an Airflow notifier of a provider, rendered
with `alert` and `alert_line` in its context (docs/derived.md, "Alerts"), e.g.

    from airflow.providers.slack.notifications.slack import SlackNotifier
    NOTIFIER = lambda: SlackNotifier(slack_conn_id="slack_cs", channel="#cs-alerts", text="{{ alert_line }}")

No Spark. Wiring only.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from csmetrics.assets import gold_asset
from csmetrics.orchestration import default_args


def NOTIFIER():  # noqa: N802 - the one name to replace, a factory: a notifier renders once
    import os

    from csmetrics.alert_notify import AlertFileNotifier
    from csmetrics.config import Settings

    folder = os.path.join(Settings.from_env().export_dir, "alerts")
    os.makedirs(folder, exist_ok=True)
    return AlertFileNotifier(os.path.join(folder, "alerts.log"))


@dag(
    dag_id="csmetrics_alert_notify",
    schedule=[gold_asset("metric_alerts_daily")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    # One at a time: each continues from the version the previous one sent.
    max_active_runs=1,
    default_args=default_args(retries=1),
    tags=["csmetrics"],
    doc_md=__doc__,
)
def csmetrics_alert_notify():
    @task
    def notify_alerts() -> int:
        from csmetrics.alert_notify import notify_new_alerts
        from csmetrics.config import Settings

        return notify_new_alerts(Settings.from_env(), NOTIFIER, dict(get_current_context()))

    notify_alerts()


csmetrics_alert_notify()
