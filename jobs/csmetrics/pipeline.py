"""Entry points of the daily run, one per DAG task; the CLI chains them.

Each takes the run's logical date and id from its caller (Airflow or the CLI) and never
looks at the clock to decide what to read or write.
"""

from __future__ import annotations

from datetime import date

from csmetrics.compute import stage
from csmetrics.config import Settings
from csmetrics.ingest.run import ingest
from csmetrics.plan import RunPlan
from csmetrics.publish import final_slices, publish, validate_staged
from csmetrics.spark import get_spark

def plan_for(run_date: date, restate: bool = False) -> RunPlan:
    return RunPlan(run_date, restate=restate)


def ingest_step(run_date: date, run_id: str, progress=print) -> str:
    settings = Settings.from_env()
    report = ingest(get_spark(settings), settings, run_date, run_id, progress)
    summary = report.summary() or "no new arrival partitions"
    progress(summary)
    return summary


def compute_step(run_date: date, run_id: str, restate: bool = False, progress=print) -> dict[str, str]:
    settings = Settings.from_env()
    plan = plan_for(run_date, restate)
    progress(f"computing {', '.join(map(str, plan.dates))} (arrival cutoff {plan.arrival_cutoff or 'none: restatement'})")
    return stage(get_spark(settings), settings, plan, run_id)


def validate_step(run_date: date, run_id: str, restate: bool = False, progress=print) -> int:
    settings = Settings.from_env()
    results = validate_staged(get_spark(settings), settings, plan_for(run_date, restate), run_id)
    warnings = [r for r in results if not r.success]
    progress(f"quality gate passed: {len(results)} checks, {len(warnings)} warnings")
    return len(results)


def publish_step(run_date: date, run_id: str, restate: bool = False, progress=print) -> dict[str, int]:
    settings = Settings.from_env()
    written = publish(get_spark(settings), settings, plan_for(run_date, restate), run_id)
    progress("published " + ", ".join(f"{table}: {count:,d} rows" for table, count in written.items()))
    return written


def restate_range(start: date, end: date, run_id: str, progress=print) -> dict[str, int]:
    """Recompute every final (stat_date, metric) slice of [start, end] from all landed data.

    Provisional slices are left to the daily runs. The earlier versions stay readable
    through Delta time travel (docs/maturity.md)."""
    settings = Settings.from_env()
    spark = get_spark(settings)
    slices = final_slices(spark, settings, start, end)
    if not slices:
        progress(f"nothing to restate: no final rows between {start} and {end}")
        return {}
    plan = RunPlan.restatement(slices)
    progress(f"restating {len(slices)} final (date, metric) slices between {start} and {end}")
    stage(spark, settings, plan, run_id)
    validate_staged(spark, settings, plan, run_id)
    written = publish(spark, settings, plan, run_id)
    progress("restated " + ", ".join(f"{table}: {count:,d} rows" for table, count in written.items()))
    return written


def run_daily(run_date: date, run_id: str, restate: bool = False, progress=print) -> None:
    ingest_step(run_date, run_id, progress)
    compute_step(run_date, run_id, restate, progress)
    validate_step(run_date, run_id, restate, progress)
    publish_step(run_date, run_id, restate, progress)
