"""csmetrics_daily: ingest -> bronze gate -> compute -> gold gate -> publish -> derived tables, for the run's logical date.

Wiring only: each task runs one step of csmetrics.pipeline with the logical date (`ds`) and
run id that Airflow passes in, in-process on local[*] or through spark-submit when
CSMETRICS_SPARK_CONN_ID names a Spark connection (csmetrics.orchestration). Nothing here
touches Spark at parse time.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.sensors.date_time import DateTimeSensor
from airflow.sdk import Param, dag

from csmetrics.orchestration import step_task

# A date R is complete once it has ended in the westernmost timezone (UTC-12) plus the
# ingestion grace period of 2 h: R + 1, 14:00 UTC.
COMPLETE_AFTER = "{{ (data_interval_end + macros.timedelta(hours=14)).isoformat() }}"
STEPS = ("ingest", "validate_bronze", "compute", "validate_gold", "publish", "derive")


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
    previous = wait
    for step in STEPS:
        task = step_task(step, [step, "--date", "{{ ds }}", "--run-id", "{{ run_id }}", "--restate", "{{ params.restate }}"])
        previous >> task
        previous = task


csmetrics_daily()
