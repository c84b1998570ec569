"""csmetrics_backfill: the daily jobs over a date range, in chunks of days.

prepare (ingest up to end + 1, bronze gate) -> one mapped task per chunk -> derived tables.
Chunks are sized by the landed data unless `chunk_days` is given (csmetrics.backfill.plan_chunks).
Each chunk is one Spark application computing the slices its days own
(csmetrics.plan.RunPlan.backfill_day), so chunks are independent: a failed chunk is cleared
and re-run alone. They run one at a time: neighbouring chunks publish into the same
stat_date partitions (a day's final slices and the next days' others), and Delta fails one
of two such commits made at once; each chunk's Spark application uses every core anyway.
Steps run in-process or through spark-submit like csmetrics_daily. Wiring only.
"""

from __future__ import annotations

from datetime import date

import pendulum
from airflow.sdk import Param, dag, task

from csmetrics.assets import DERIVED, PUBLISHED
from csmetrics.orchestration import default_args, mapped_step_task, step_task

RANGE = ["--start", "{{ params.start }}", "--end", "{{ params.end }}", "--restate", "{{ params.restate }}"]


@dag(
    dag_id="csmetrics_backfill",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "start": Param(type="string", format="date", description="First logical date, YYYY-MM-DD"),
        "end": Param(type="string", format="date", description="Last logical date, YYYY-MM-DD"),
        "restate": Param(False, type="boolean", description="Read every landed record, not each day's arrival cutoff"),
        "chunk_days": Param(
            None, type=["null", "integer"], minimum=1,
            description="Days per chunk (one Spark application each); empty: sized by the landed data",
        ),
    },
    default_args=default_args(retries=2),
    tags=["csmetrics"],
    doc_md=__doc__,
)
def csmetrics_backfill():
    @task
    def chunk_arguments(params: dict) -> list[list[str]]:
        from csmetrics.backfill import plan_chunks
        from csmetrics.config import Settings

        start, end = date.fromisoformat(params["start"]), date.fromisoformat(params["end"])
        restate = str(params["restate"]).lower()
        return [
            ["backfill_chunk", "--first", str(c.first), "--last", str(c.last), "--start", str(start), "--end", str(end), "--restate", restate]
            for c in plan_chunks(Settings.from_env(), start, end, params["chunk_days"])
        ]

    prepare = step_task("prepare", ["backfill_prepare", *RANGE])
    chunks = mapped_step_task("run_chunk", chunk_arguments(), max_active_tis_per_dagrun=1)
    # The chunks publish the daily tables; derive completes the set: downstream DAGs run once.
    derive = step_task("derive", ["backfill_derive", *RANGE], outlets=[*PUBLISHED, *DERIVED])
    prepare >> chunks >> derive


csmetrics_backfill()
