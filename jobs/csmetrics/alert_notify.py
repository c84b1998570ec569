"""Send each new alert of gold/metric_alerts_daily through an Airflow notifier.

The consumer DAG (dags/csmetrics_alert_notify.py) runs this whenever the alerts table's Asset
is updated. New alerts are the rows the table's Change Data Feed shows as inserted since the
version notified last (every row the first time), read with delta-rs: no Spark; of those,
only the open ones are sent (OPEN_DAYS). The version is kept beside the
notifications, as the leaderboard export keeps its own. The default notifier writes one line
per alert to a file and to the task log; docs/derived.md shows how to send them to Slack or
by mail instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from airflow.sdk import BaseNotifier
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from csmetrics.config import Settings, SettingsError
from csmetrics.export import exported_version, gold_table_missing

TABLE = "metric_alerts_daily"
# A re-raised alert (its value changed, still an alert) is an update, not a new alert.
NEW = ("insert",)
# An alert is worth sending while it is open: its date within this many days of the newest
# date the table holds. A backfill or a restatement that raises alerts on dates weeks back,
# or the consumer's first run over a table with months of them, pages nobody about the past.
OPEN_DAYS = 7


class AlertFileNotifier(BaseNotifier):
    """One line per alert, appended to `path` and written to the task log."""

    template_fields = ("message",)

    def __init__(self, path: str, message: str = "{{ alert_line }}"):
        super().__init__()
        self.path = path
        self.message = message

    def notify(self, context) -> None:
        self.log.warning("%s", self.message)
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(self.message + "\n")


def alert_line(alert: dict) -> str:
    return (
        f"csmetrics alert ({alert['severity']}) {alert['stat_date']} shop {alert['shop_id']} {alert['metric']} "
        f"[{alert['segment']}]: {alert['value']:.4g} against its median {alert['baseline']:.4g} (z {alert['z']:+.1f}), "
        f"peer percentile {alert['peer_percentile']:.0%}, {alert['maturity']}. {alert['explanation']}"
    )


def new_alerts(settings: Settings) -> tuple[list[dict], int, Path]:
    """The alerts inserted since the last notification (every alert the first time), the
    table's version, and where that version is kept once they are sent."""
    path = settings.table_path("gold", TABLE)
    if not DeltaTable.is_deltatable(path):
        raise gold_table_missing(settings, TABLE)
    table = DeltaTable(path)
    version = table.version()
    state = Path(settings.export_dir) / "alerts" / "_notified_version"
    last = exported_version(state, TABLE, version)
    if last == version:
        return [], version, state
    if last is None:
        rows = table.to_pyarrow_table().to_pylist()
    else:
        try:
            feed = pa.RecordBatchReader.from_stream(table.load_cdf(starting_version=last + 1, ending_version=version)).read_all()
        except (DeltaError, pa.ArrowException) as error:
            raise SettingsError(
                f"the Change Data Feed of gold/{TABLE} after version {last} can no longer be read (VACUUM removed the history "
                f"older than CSMETRICS_RETAIN_DAYS): delete {state} to send the open alerts again"
            ) from error
        rows = [row for row in feed.to_pylist() if row["_change_type"] in NEW]
    newest = max(table.to_pyarrow_table(columns=["stat_date"])["stat_date"].to_pylist(), default=None)
    open_rows = [row for row in rows if newest is not None and (newest - row["stat_date"]).days < OPEN_DAYS]
    alerts = sorted(open_rows, key=lambda a: (a["stat_date"], a["shop_id"], a["metric"], a["segment"]))
    return alerts, version, state


def notify_new_alerts(settings: Settings, notifier: Callable[[], BaseNotifier], context: dict, progress=print) -> int:
    """Send every new open alert through a fresh notifier (a notifier renders its templates in
    place, once), then record the version sent. Returns how many were sent. A failure before
    the version is recorded sends the alerts of its run again at the retry: at least once."""
    alerts, version, state = new_alerts(settings)
    for alert in alerts:
        notifier()({**context, "alert": alert, "alert_line": alert_line(alert)})
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(f"{version}\n")
    progress(f"{TABLE}: {len(alerts)} new alert(s) sent, up to version {version}")
    return len(alerts)
