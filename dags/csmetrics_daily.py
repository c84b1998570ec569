"""csmetrics_daily: ingest -> compute -> validate -> publish for the run's logical date.

Wiring only: every task calls an entry point of csmetrics.pipeline with the logical date
(`ds`) and run id that Airflow passes in. Nothing here touches Spark at parse time.
"""

from __future__ import annotations

from datetime import date

import pendulum
from airflow.providers.standard.sensors.date_time import DateTimeSensor
from airflow.sdk import Param, dag, task

# A date R is complete once it has ended in the westernmost timezone (UTC-12) plus the
# ingestion grace period of 2 h: R + 1, 14:00 UTC.
COMPLETE_AFTER = "{{ (data_interval_end + macros.timedelta(hours=14)).isoformat() }}"


@dag(
    dag_id="csmetrics_daily",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={"restate": Param(False, type="boolean", description="Recompute with all landed data, rewriting final rows")},
    default_args={"retries": 1},
    tags=["csmetrics"],
    doc_md=__doc__,
)
def csmetrics_daily():
    wait = DateTimeSensor(task_id="wait_until_day_complete", target_time=COMPLETE_AFTER, mode="reschedule")

    @task
    def ingest(ds: str, run_id: str) -> str:
        from csmetrics.pipeline import ingest_step

        return ingest_step(date.fromisoformat(ds), run_id)

    @task
    def compute(ds: str, run_id: str, params: dict) -> dict:
        from csmetrics.pipeline import compute_step

        return compute_step(date.fromisoformat(ds), run_id, params["restate"])

    @task
    def validate(ds: str, run_id: str, params: dict) -> int:
        from csmetrics.pipeline import validate_step

        return validate_step(date.fromisoformat(ds), run_id, params["restate"])

    @task
    def publish(ds: str, run_id: str, params: dict) -> dict:
        from csmetrics.pipeline import publish_step

        return publish_step(date.fromisoformat(ds), run_id, params["restate"])

    wait >> ingest() >> compute() >> validate() >> publish()


csmetrics_daily()
