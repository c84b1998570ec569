"""csmetrics_maintenance: weekly compaction, VACUUM, staging and Data Docs clean-up.

Sundays at 03:00 UTC, between two daily runs' publishes (they run from 14:00 UTC): OPTIMIZE
could otherwise conflict with a publish replacing the same partition. Keeps
CSMETRICS_RETAIN_DAYS (30) of table history for time travel (csmetrics.maintain). Wiring only.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from csmetrics.orchestration import default_args, step_task


@dag(
    dag_id="csmetrics_maintenance",
    schedule="0 3 * * 0",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=1),
    tags=["csmetrics"],
    doc_md=__doc__,
)
def csmetrics_maintenance():
    step_task("maintain", ["maintain"])


csmetrics_maintenance()
