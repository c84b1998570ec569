"""Backfill a date range with the daily jobs: ingest once, then chunks of days per Spark job.

Each day of the range computes only the slices its daily run would leave behind
(`RunPlan.backfill_day`), from bronze as of its own cutoff. Those slices are disjoint, so a
chunk gates and publishes its days together (`RunPlan.backfill_days`), and chunks are
independent: they can run in any order, and a failed chunk is re-run alone. Finished chunks
are recorded in `quality/backfill_chunks`; running the same backfill again skips them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.config import Settings
from csmetrics.derived.publish import derive
from csmetrics.finality import dates_settled_by, plan_run
from csmetrics.plan import RunPlan
from csmetrics.publish import publish_plan
from csmetrics.schemas.gold import BACKFILL_CHUNKS as BACKFILL_CHUNKS_SCHEMA
from csmetrics.tables import BACKFILL_CHUNKS


@dataclass(frozen=True)
class Chunk:
    first: date
    last: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def __str__(self) -> str:
        return f"{self.first}..{self.last}"


def backfill_id(start: date, end: date, restate: bool) -> str:
    return f"backfill__{start}_{end}{'__restate' if restate else ''}"


def chunks(start: date, end: date, chunk_days: int) -> list[Chunk]:
    if end < start:
        raise ValueError(f"the backfill's end {end} is before its start {start}")
    if chunk_days < 1:
        raise ValueError("chunk_days must be at least 1")
    result, first = [], start
    while first <= end:
        last = min(first + timedelta(days=chunk_days - 1), end)
        result.append(Chunk(first, last))
        first = last + timedelta(days=1)
    return result


def _log_path(settings: Settings) -> str:
    return BACKFILL_CHUNKS.path(settings)


def finished_chunks(spark: SparkSession, settings: Settings, backfill: str) -> set[date]:
    """First days of the chunks of `backfill` that already finished (a small set)."""
    table = BACKFILL_CHUNKS.ensure(spark, settings)
    rows = table.toDF().where(F.col("backfill_id") == backfill).select("chunk_first").collect()
    return {row["chunk_first"] for row in rows}


def run_chunk(
    spark: SparkSession, settings: Settings, chunk: Chunk, end: date, restate: bool, backfill: str, progress=print
) -> None:
    """The backfilled slices of `chunk` in one slice transaction (compute, gold gate,
    publish: csmetrics.publish.publish_plan): every day before `end` computes its own slices
    as of its own cutoff, and the chunk gates them once and publishes them in one commit per
    table. A chunk whose gate holds back a shop-day, or stops, publishes nothing: its days
    are then gated and published one by one, so that each hold withholds exactly the slices
    of the day whose rows failed, within that day's allowance, as in the daily runs. The
    backfill's last day runs after them as its daily run would: it also keeps final slices
    final when restating, and retries held-back shop-days (csmetrics.finality).
    Then record the chunk."""
    before_end = [day for day in chunk.days if day < end]
    if before_end:
        days = RunPlan.backfill_days(before_end, end, restate)
        if publish_plan(spark, settings, days, days_run_id(backfill, before_end), all_or_nothing=True) is None:
            progress(f"  {Chunk(before_end[0], before_end[-1])}: the gold gate held back shop-days or stopped; publishing day by day")
            for part in days.parts:
                publish_plan(spark, settings, part, day_run_id(backfill, part.run_date))
        progress(f"  {Chunk(before_end[0], before_end[-1])} done")
    if end in chunk.days:
        publish_plan(spark, settings, plan_run(spark, settings, end, restate), day_run_id(backfill, end))
        progress(f"  {end} done")
    row = [(backfill, chunk.first, chunk.last, datetime.now(UTC))]
    spark.createDataFrame(row, BACKFILL_CHUNKS_SCHEMA).write.format("delta").mode("append").save(_log_path(settings))


def day_run_id(backfill: str, day: date) -> str:
    return f"{backfill}__{day}"


def days_run_id(backfill: str, days: list[date]) -> str:
    """The run id of a chunk's days before the backfill's end (one day: that day's)."""
    return day_run_id(backfill, days[0]) if len(days) == 1 else f"{backfill}__{days[0]}_{days[-1]}"


def derive_range(spark: SparkSession, settings: Settings, start: date, end: date, backfill: str) -> dict[str, int]:
    """Derived tables for every stat_date the backfill wrote (back to start - longest window,
    and the dates of the held-back shop-days its last day finalised)."""
    longest = max(m.window_days for m in registry.METRICS)
    first = start - timedelta(days=longest)
    dates = {first + timedelta(days=i) for i in range((end - first).days + 1)}
    dates |= set(dates_settled_by(spark, settings, day_run_id(backfill, end)))
    return derive(spark, settings, sorted(dates), backfill)
