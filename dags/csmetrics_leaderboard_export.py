"""csmetrics_leaderboard_export: an example downstream DAG, run whenever gold/leaderboard_daily changes.

Scheduled on the table's Airflow Asset (csmetrics.assets), which the run task of
csmetrics_daily and the derive task of csmetrics_backfill update. It writes one CSV per stat_date for a
dashboard, re-writing only the dates the table's Change Data Feed shows as changed since
its last export (csmetrics.export; `csmetrics export` by hand). No Spark. Wiring only.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from csmetrics.assets import LEADERBOARD_DAILY
from csmetrics.orchestration import default_args


@dag(
    dag_id="csmetrics_leaderboard_export",
    schedule=[LEADERBOARD_DAILY],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    # One export at a time: each continues from the version the previous one exported.
    max_active_runs=1,
    default_args=default_args(retries=1),
    tags=["csmetrics", "example"],
    doc_md=__doc__,
)
def csmetrics_leaderboard_export():
    @task
    def export_leaderboard() -> list[str]:
        from csmetrics.config import Settings
        from csmetrics.export import export_table

        return [str(day) for day in export_table(Settings.from_env(), "leaderboard_daily")]

    export_leaderboard()


csmetrics_leaderboard_export()
