"""How a DAG runs a pipeline step: in the task's process on local[*], or through spark-submit.

One switch, no code change: with `CSMETRICS_SPARK_CONN_ID` set (an Airflow Spark connection,
e.g. `spark_csmetrics` -> spark://127.0.0.1:7077, see infra/README.md) every step becomes a
SparkSubmitOperator that submits `jobs/csmetrics/submit.py`, with the Delta package so that
the jars reach the cluster's executors. Without it, a PythonOperator runs the same
`submit.run_step` in-process. Imported at DAG parse time: nothing here starts Spark.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

from airflow.providers.standard.operators.python import PythonOperator

from csmetrics.schedule import DAY_COMPLETE_AFTER

APPLICATION = str(Path(__file__).with_name("submit.py"))

# Who answers for the DAGs in Airflow's UI (filter by owner) and receives their alerts.
OWNER = "cs-data-platform"
# A task that takes longer is stuck: a whole daily run of 12 M messages takes about 12
# minutes, of 47 M about 36 (bench/RESULTS.md).
STEP_TIMEOUT = timedelta(hours=3)
# The sensor waits up to 14 h after the interval ends (a run scheduled on time); more is a
# scheduler outage, which should page rather than wait forever (the default is 7 days).
SENSOR_TIMEOUT = DAY_COMPLETE_AFTER + timedelta(hours=4)
# A daily run that is not done a day after its start fails, so the next date can start.
RUN_TIMEOUT = timedelta(hours=24)
alerts = logging.getLogger("csmetrics.alerts")


def report_failure(context) -> None:
    """Every failed task attempt, in one line at error level in the task's log. Replace or
    extend with an Airflow notifier (SmtpNotifier, SlackNotifier...) to page someone."""
    ti = context["task_instance"]
    alerts.error(
        "csmetrics %s.%s failed for %s (run %s, try %s): %s. Every step is idempotent: fix the cause, then clear the task.",
        ti.dag_id, ti.task_id, context.get("ds"), ti.run_id, ti.try_number, context.get("exception"),
    )


def default_args(retries: int) -> dict:
    """What every csmetrics task shares: owner, retries, timeout, failure alert."""
    return {"owner": OWNER, "retries": retries, "execution_timeout": STEP_TIMEOUT, "on_failure_callback": report_failure}


def delta_package() -> str:
    """The Maven coordinate of the Delta jars matching the installed delta-spark and Spark."""
    from importlib.metadata import version

    import pyspark

    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    return f"io.delta:delta-spark_{spark_minor}_2.13:{version('delta-spark')}"


def spark_conn_id() -> str | None:
    return os.environ.get("CSMETRICS_SPARK_CONN_ID") or None


def _environment() -> dict[str, str]:
    """The csmetrics settings of the scheduler's environment, passed on to the submitted driver."""
    return {k: v for k, v in os.environ.items() if k.startswith("CSMETRICS_") or k in ("PYSPARK_PYTHON", "JAVA_HOME")}


def _submission(task_id: str, conn_id: str) -> dict:
    """What every submitted step shares: the application, the connection, the Delta jars."""
    return dict(
        task_id=task_id,
        application=APPLICATION,
        conn_id=conn_id,
        packages=delta_package(),
        name=f"csmetrics-{task_id}",
        env_vars=_environment(),
    )


def step_task(task_id: str, args: list[str], **kwargs):
    """A task running `submit.py <args>` (templated, e.g. ["publish", "--date", "{{ data_interval_start | ds }}"])."""
    conn_id = spark_conn_id()
    if conn_id is None:
        from csmetrics.submit import run_step

        return PythonOperator(task_id=task_id, python_callable=run_step, op_args=args, **kwargs)
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    return SparkSubmitOperator(application_args=args, **_submission(task_id, conn_id), **kwargs)


def mapped_step_task(task_id: str, args_list, **kwargs):
    """One task instance per argument list of `args_list` (an XComArg), same switch as `step_task`."""
    conn_id = spark_conn_id()
    if conn_id is None:
        from csmetrics.submit import run_step

        return PythonOperator.partial(task_id=task_id, python_callable=run_step, **kwargs).expand(op_args=args_list)
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    return SparkSubmitOperator.partial(**_submission(task_id, conn_id), **kwargs).expand(application_args=args_list)
