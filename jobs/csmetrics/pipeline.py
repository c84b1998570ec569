"""Entry points of the runs: each step on its own (the CLI's and spark-submit's steps), and
the daily run's two phases, run one after the other in one Spark application (csmetrics_daily's task).

Each takes the run's logical date and id from its caller (Airflow or the CLI) and never
looks at the clock to decide what to read or write.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from csmetrics import backfill as backfills
from csmetrics import registry
from csmetrics.compute import stage
from csmetrics.config import Settings
from csmetrics.derived.publish import changed_slices, derive, every_metric
from csmetrics.finality import dates_settled_by, final_slices, plan_run, unfinished
from csmetrics.ingest.run import IngestReport, check_day_landed, ingest
from csmetrics.maintain import maintain
from csmetrics.plan import RunPlan
from csmetrics.publish import publish, publish_plan
from csmetrics.quality.bronze_gate import validate_bronze
from csmetrics.quality.gate import data_docs_index, summary
from csmetrics.quality.gold_gate import validate_gold
from csmetrics.schedule import cutoff, first_partition_listed
from csmetrics.spark import get_spark


def ingest_step(run_date: date, run_id: str, progress=print, restate: bool = False) -> str:
    """Ingest the files that had landed by the run's cutoff and no run ingested yet (every
    landed file for a restatement, which reads them all)."""
    return _ingest_with_report(run_date, run_id, progress, restate)[0]


def _ingest_with_report(
    run_date: date, run_id: str, progress=print, restate: bool = False, keep_appended: bool = False, every_partition: bool = False
) -> tuple[str, IngestReport]:
    """`every_partition`: list every arrival partition, not only the daily run's lookback (a
    backfill's prepare, which ingests the whole history landed by its last cutoff)."""
    settings = Settings.from_env()
    spark = get_spark(settings)
    landed_by = None if restate else cutoff(run_date)
    since = None if restate or every_partition else first_partition_listed(run_date, settings.landing_lookback_days)
    check_day_landed(spark, settings, run_date, landed_by, progress)
    report = ingest(spark, settings, run_id, landed_by, progress, keep_appended, since)
    seen = f"cutoff {landed_by:%Y-%m-%d %H:%M} UTC" if landed_by else "restatement: every landed file"
    summary = report.summary() or f"no new landed files ({seen})"
    progress(summary)
    return summary, report


def plan_for(run_date: date, restate: bool = False) -> RunPlan:
    """The plan of the run for `run_date`, from what gold and quality/unfinished hold now."""
    settings = Settings.from_env()
    return plan_run(get_spark(settings), settings, run_date, restate)


def compute_step(run_date: date, run_id: str, restate: bool = False, progress=print) -> dict[str, str]:
    settings = Settings.from_env()
    plan = plan_for(run_date, restate)
    progress(_computing_line(plan))
    return stage(get_spark(settings), settings, plan, run_id)


def _computing_line(plan: RunPlan) -> str:
    seen = f"files landed by {plan.cutoff:%Y-%m-%d %H:%M} UTC" if plan.cutoff else "every landed file: restatement"
    return f"computing {', '.join(map(str, plan.dates))} ({seen})" + _retries_line(plan)


def _retries_line(plan: RunPlan) -> str:
    shop_days = sorted({(day, shop) for day, shop, _ in plan.retries})
    if not shop_days:
        return ""
    listed = ", ".join(f"{day} {shop}" for day, shop in shop_days[:5]) + (" ..." if len(shop_days) > 5 else "")
    return f"; retrying {len(shop_days)} held-back shop-day(s): {listed}"


def validate_bronze_step(run_id: str, progress=print, appended: dict | None = None) -> str:
    """The bronze gate on what this run's ingestion wrote (`appended`: as ingest held it in
    this application; otherwise read back from bronze)."""
    settings = Settings.from_env()
    results = validate_bronze(get_spark(settings), settings, run_id, appended)
    text = "bronze gate: " + (summary(results, data_docs_index(settings), run_id) if results else "nothing new to check")
    progress(text)
    return text


def validate_step(run_date: date, run_id: str, restate: bool = False, progress=print) -> str:
    """The gold gate on the run's staged rows."""
    settings = Settings.from_env()
    report = validate_gold(get_spark(settings), settings, plan_for(run_date, restate), run_id)
    text = "gold gate: " + report.summary()
    progress(text)
    return text


def publish_step(run_date: date, run_id: str, restate: bool = False, progress=print) -> dict[str, int]:
    settings = Settings.from_env()
    written = publish(get_spark(settings), settings, plan_for(run_date, restate), run_id)
    progress("published " + ", ".join(f"{table}: {count:,d} rows" for table, count in written.items()))
    return written


def derived_line(changed: dict[str, int]) -> str:
    return "derived " + ", ".join(f"{table}: {count:,d} rows changed" for table, count in changed.items())


def derive_step(run_date: date, run_id: str, restate: bool = False, progress=print) -> dict[str, int]:
    """Weekly rollups, governance, peer benchmarks and leaderboards for the dates the run
    published, and the dates of the held-back shop-days it finalised."""
    settings = Settings.from_env()
    spark = get_spark(settings)
    changed = changed_slices(RunPlan(run_date, restate=restate).metrics_by_date(), every_metric(dates_settled_by(spark, settings, run_id)))
    written = derive(spark, settings, changed, run_id, run_date)
    progress(derived_line(written))
    return written


def _recompute(spark, settings, plan: RunPlan, run_id: str, progress, done: str) -> dict[str, int]:
    """Compute, gate, publish and derive one plan in this process (a daily run's gold phase, a
    restatement, a release). The derived tables are recomputed for the plan's slices and retries."""
    written = _publish_plan(spark, settings, plan, run_id, progress, done)
    retried = changed_slices(*({day: [metric]} for day, _, metric in plan.retries))
    progress(derived_line(derive(spark, settings, changed_slices(plan.metrics_by_date(), retried), run_id, plan.run_date)))
    return written


def _publish_plan(spark, settings, plan: RunPlan, run_id: str, progress, done: str) -> dict[str, int]:
    _, written = publish_plan(spark, settings, plan, run_id, progress)
    progress(f"{done} " + ", ".join(f"{table}: {count:,d} rows" for table, count in written.items()))
    return written


def compute_gate_publish_step(run_date: date, run_id: str, restate: bool = False, progress=print) -> dict[str, int]:
    """Compute, the gold gate and publish of the run's plan in this application, as the daily
    run's gold phase does them (its rows are staged only if the gate stops the run)."""
    settings = Settings.from_env()
    spark = get_spark(settings)
    plan = plan_run(spark, settings, run_date, restate)
    progress(_computing_line(plan))
    return _publish_plan(spark, settings, plan, run_id, progress, "published")


def restate_range(start: date, end: date, run_id: str, progress=print) -> dict[str, int]:
    """Recompute every final (stat_date, metric) slice of [start, end] from all landed data:
    every landed file not ingested yet is ingested first (exactly once, as a run does).

    Provisional slices are left to the daily runs. The earlier versions stay readable
    through Delta time travel (docs/maturity.md)."""
    settings = Settings.from_env()
    spark = get_spark(settings)
    report = ingest(spark, settings, run_id, None, progress)
    progress(report.summary() or "no new landed files")
    slices = final_slices(spark, settings, start, end)
    if not slices:
        progress(f"nothing to restate: no final rows between {start} and {end}")
        return {}
    progress(f"restating {len(slices)} final (date, metric) slices between {start} and {end}")
    return _recompute(spark, settings, RunPlan.restatement(slices), run_id, progress, "restated")


def release(stat_date: date, shop_id: str | None, run_id: str, progress=print) -> dict[str, int]:
    """Accept held-back shop-days of `stat_date` (of one shop, or all): recompute them from
    every landed record and publish them final whatever their checks say; their weeks and
    months can then become final (docs/maturity.md)."""
    settings = Settings.from_env()
    spark = get_spark(settings)
    pending = [(r.stat_date, r.shop_id, r.metric) for r in unfinished(spark, settings, stat_date, shop_id)]
    if not pending:
        whose = f"shop {shop_id}" if shop_id else "any shop"
        progress(f"nothing to release: no held-back slice of {whose} on {stat_date} is waiting to become final")
        return {}
    shops = sorted({shop for _, shop, _ in pending})
    progress(f"releasing {len(pending)} held-back slice(s) of {stat_date}: {', '.join(shops)}")
    report = ingest(spark, settings, run_id, None, progress)
    progress(report.summary() or "no new landed files")
    as_of = max(day + timedelta(days=registry.BY_ID[metric].window_days) for day, _, metric in pending)
    return _recompute(spark, settings, RunPlan.release(as_of, pending), run_id, progress, "released")


def bronze_phase(run_date: date, run_id: str, restate: bool = False, progress=print, every_partition: bool = False) -> str:
    """The daily run's first phase: ingest, then the bronze gate on what it wrote
    (held since the append, not read back from bronze)."""
    ingest_held, bronze_gate = bronze_steps(run_date, run_id, restate, progress, every_partition)
    summary_text = ingest_held()
    bronze_gate()
    return summary_text


def bronze_steps(run_date: date, run_id: str, restate: bool = False, progress=print, every_partition: bool = False):
    """The bronze phase's two steps as two calls (the benchmarks time them apart): ingest,
    which holds the rows it appends, then the bronze gate on them, which releases them."""
    held = {}

    def ingest_held() -> str:
        summary_text, held["report"] = _ingest_with_report(run_date, run_id, progress, restate, keep_appended=True, every_partition=every_partition)
        return summary_text

    def bronze_gate() -> str:
        report = held.pop("report")
        try:
            return validate_bronze_step(run_id, progress, report.appended)
        finally:
            report.release_appended()

    return ingest_held, bronze_gate


def gold_phase(run_date: date, run_id: str, restate: bool = False, progress=print) -> dict[str, int]:
    """The daily run's second phase: compute, the gold gate, publish and the
    derived tables, from one plan (what gold and quality/unfinished held when it started)."""
    settings = Settings.from_env()
    spark = get_spark(settings)
    plan = plan_run(spark, settings, run_date, restate)
    progress(_computing_line(plan))
    return _recompute(spark, settings, plan, run_id, progress, "published")


def run_daily(run_date: date, run_id: str, restate: bool = False, progress=print) -> None:
    bronze_phase(run_date, run_id, restate, progress)
    gold_phase(run_date, run_id, restate, progress)


def backfill_prepare_step(start: date, end: date, restate: bool, progress=print) -> str:
    """Ingest everything that has landed up to the backfill's last cutoff, then the bronze gate."""
    return bronze_phase(end, backfills.backfill_id(start, end, restate), restate, progress, every_partition=True)


def backfill_chunk_step(first: date, last: date, start: date, end: date, restate: bool, progress=print) -> str:
    """One chunk of days in one Spark application; skipped when its days already finished."""
    settings = Settings.from_env()
    spark = get_spark(settings)
    backfill = backfills.backfill_id(start, end, restate)
    chunk = backfills.Chunk(first, last)
    if set(chunk.days) <= backfills.finished_days(spark, settings, backfill):
        progress(f"chunk {chunk} already finished, skipped")
        return "skipped"
    backfills.run_chunk(spark, settings, chunk, end, restate, backfill, progress)
    backfills.record_chunk(spark, settings, chunk, backfill)
    return "done"


def backfill_derive_step(start: date, end: date, restate: bool, progress=print) -> dict[str, int]:
    settings = Settings.from_env()
    backfill = backfills.backfill_id(start, end, restate)
    written = backfills.derive_range(get_spark(settings), settings, start, end, backfill)
    progress(derived_line(written))
    return written


def backfill(start: date, end: date, restate: bool = False, chunk_days: int | None = None, progress=print) -> None:
    """The whole backfill in this process: prepare, every unfinished chunk in order, derived
    tables. Chunks are sized by data unless `chunk_days` fixes them (backfills.plan_chunks)."""
    began = time.monotonic()
    backfill_prepare_step(start, end, restate, progress)
    settings = Settings.from_env()
    finished = backfills.finished_days(get_spark(settings), settings, backfills.backfill_id(start, end, restate))
    parts = backfills.plan_chunks(settings, start, end, chunk_days, finished)
    sizes = f"of {chunk_days} day(s)" if chunk_days else "sized by the landed data"
    resumed = f", {len(finished)} day(s) already finished" if finished else ""
    progress(f"backfill {start}..{end}: {len(parts)} chunk(s) {sizes}{resumed}")
    days_total = sum(len(c.days) for c in parts)
    days_done, chunks_began = 0, time.monotonic()
    for number, chunk in enumerate(parts, 1):
        progress(f"chunk {number}/{len(parts)}: {chunk}")
        if backfill_chunk_step(chunk.first, chunk.last, start, end, restate, progress) == "done":
            days_done += len(chunk.days)
        left = days_total - sum(len(c.days) for c in parts[:number])
        per_day = (time.monotonic() - chunks_began) / days_done if days_done else 0.0
        progress(f"  {number}/{len(parts)} chunks, {time.monotonic() - began:.0f} s elapsed, about {per_day * left:.0f} s left")
    backfill_derive_step(start, end, restate, progress)
    progress(f"backfill {start}..{end} finished in {time.monotonic() - began:.0f} s")


def maintain_step(progress=print) -> dict[str, tuple[int, int]]:
    """Compaction and VACUUM of every table, old staging tables and Data Docs removed."""
    settings = Settings.from_env()
    return maintain(get_spark(settings), settings, progress)
