"""csmetrics_daily: one task, `run` (ingest -> bronze gate -> compute -> gold gate -> publish -> derived tables), for the run's logical date.

The run for date R has the data interval [R, R + 1) UTC (csmetrics.schedule) and starts
once R has ended in every timezone plus the ingestion grace period: R + 1, 14:00 UTC. It
sees the files that had landed by then, whenever it runs (a replay, a late start, a
backfill). Wiring only: the task runs csmetrics.pipeline.run_daily in one Spark
application, with the date of the data interval's start and the run id that Airflow passes
in, in-process on local[*] or through spark-submit when CSMETRICS_SPARK_CONN_ID names a
Spark connection (csmetrics.orchestration). Each step logs its own result line.
Nothing here touches Spark at parse time.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.sensors.date_time import DateTimeSensor
from airflow.sdk import Param, dag

from csmetrics.assets import DERIVED, PUBLISHED
from csmetrics.orchestration import RUN_TIMEOUT, SENSOR_TIMEOUT, default_args, step_task
from csmetrics.schedule import complete_after_template, daily_timetable

# The run's date R: the start of its data interval (also right for manual runs, whose
# interval Airflow infers as the last complete day).
RUN_DATE = "{{ data_interval_start | ds }}"
# The gold tables the run updates, as Airflow Assets: downstream DAGs schedule on them.
OUTLETS = [*PUBLISHED, *DERIVED]


@dag(
    dag_id="csmetrics_daily",
    schedule=daily_timetable(),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={"restate": Param(False, type="boolean", description="Recompute with all landed data, rewriting final rows")},
    default_args=default_args(retries=1),
    dagrun_timeout=RUN_TIMEOUT,
    tags=["csmetrics"],
    doc_md=__doc__,
)
def csmetrics_daily():
    wait = DateTimeSensor(task_id="wait_until_day_complete", target_time=complete_after_template(), mode="reschedule", timeout=SENSOR_TIMEOUT)
    # One task, not one per step or phase: each task is a new process with its own Spark
    # driver, whose start and JIT warm-up cost more than a small day's work (docs/scaling.md).
    # `airflow backfill create` runs several dates at once (its own --max-active-runs
    # overrides the DAG's); a run writes shared tables (the ingest log and bronze; the gold
    # partitions two runs both own), so it runs for one date at a time.
    run = step_task(
        "run",
        ["run", "--date", RUN_DATE, "--run-id", "{{ run_id }}", "--restate", "{{ params.restate }}"],
        max_active_tis_per_dag=1,
        outlets=OUTLETS,
    )
    wait >> run


csmetrics_daily()
