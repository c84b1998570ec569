"""Backfill a date range with the daily jobs: ingest once, then chunks of days per Spark job.

Each day of the range computes only the slices its daily run would leave behind
(`RunPlan.backfill_day`), from bronze as of its own cutoff. Those slices are disjoint, so a
chunk computes its days in one pass (csmetrics.chunk), gates and publishes them together
(`RunPlan.backfill_days`), and chunks are
independent: they can run in any order, and a failed chunk is re-run alone. Finished chunks
are recorded in `quality/backfill_chunks`; running the same backfill again skips their days.

Chunks are sized by data (`plan_chunks`): a chunk holds as many days as their landed files
fit in a share of the driver's memory, up to a month; `--chunk-days` fixes the size instead.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pyarrow import fs as pafs
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from csmetrics.config import Settings
from csmetrics.derived.publish import changed_slices, derive, every_metric
from csmetrics.finality import dates_settled_by, plan_run
from csmetrics.plan import RunPlan
from csmetrics.publish import publish_plan
from csmetrics.schemas.gold import BACKFILL_CHUNKS as BACKFILL_CHUNKS_SCHEMA
from csmetrics.schemas.raw import RAW_TABLES
from csmetrics.tables import BACKFILL_CHUNKS

log = logging.getLogger(__name__)

# A chunk's one pass gives each of its days its own copy of the bronze rows it reads, and
# holds their computed rows until its one publish: Parquet's compressed bytes grow several
# times over in memory. A chunk's days together may have landed a twenty-fifth of the
# driver's memory in files: 2 days at 3 M messages a day with the default 4g, 1 at 12 M or
# 46 M; a month of a small platform. A quarter ran out of heap on 7 days of 3 M, a twentieth
# on 3 of them, while 2 passed (bench/RESULTS.md).
CHUNK_MEMORY_SHARE = 0.04
# A month of a small platform is one chunk; more would only delay the first published day.
MAX_CHUNK_DAYS = 31
# When the landing zone cannot be listed without Spark (a scheme pyarrow does not know).
FALLBACK_CHUNK_DAYS = 7


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
    """[start, end] in chunks of `chunk_days` days (the last one may be shorter)."""
    _check_range(start, end)
    if chunk_days < 1:
        raise ValueError("chunk_days must be at least 1")
    return chunks_by_volume(start, end, {}, budget=0, max_days=chunk_days)


def chunks_by_volume(start: date, end: date, volume: dict[date, int], budget: int, max_days: int = MAX_CHUNK_DAYS) -> list[Chunk]:
    """[start, end] in consecutive chunks whose days' `volume` sums to at most `budget`, of at
    most `max_days` days; a day over the budget alone is a chunk of its own."""
    _check_range(start, end)
    result, first, held = [], start, 0
    day = start
    while day <= end:
        size = volume.get(day, 0)
        if day > first and (held + size > budget or (day - first).days >= max_days):
            result.append(Chunk(first, day - timedelta(days=1)))
            first, held = day, 0
        held += size
        day += timedelta(days=1)
    return [*result, Chunk(first, end)]


def _check_range(start: date, end: date) -> None:
    if end < start:
        raise ValueError(f"the backfill's end {end} is before its start {start}")


def memory_bytes(text: str) -> int:
    """`spark.driver.memory` as Spark reads it (`4g`, `512m`, `1024k`; a bare number is MiB) in bytes."""
    found = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)b?\s*", text.lower())
    if found is None:
        raise ValueError(f"not a memory size: {text!r} (expected e.g. 4g or 512m)")
    return int(found[1]) * 1024 ** "bkmgt".index(found[2] or "m")


def landed_bytes_by_day(landing: str, start: date, end: date) -> dict[date, int]:
    """Bytes landed in each arrival partition dt=D of the event tables, D in [start, end]: the
    day's volume. Listed with pyarrow's file systems (local, s3, gs, abfs, hdfs), so that the
    backfill DAG plans its chunks without starting Spark."""
    uri = landing.replace("s3a://", "s3://", 1)
    if uri.startswith("file:/") and not uri.startswith("file://"):
        uri = "file://" + uri.removeprefix("file:")  # Hadoop's file:/path
    file_system, root = pafs.FileSystem.from_uri(uri)
    tables = [name for name, raw in RAW_TABLES.items() if raw.event_time]
    if all(file_system.get_file_info(f"{root}/{table}").type == pafs.FileType.NotFound for table in tables):
        # Not an empty platform: a landing zone this process does not see (another
        # machine's path, an object store's settings that pyarrow does not read).
        raise FileNotFoundError(f"no event table under {landing}")
    volume: dict[date, int] = {}
    for table in tables:
        found = file_system.get_file_info(pafs.FileSelector(f"{root}/{table}", allow_not_found=True))
        for partition in found:
            if partition.type != pafs.FileType.Directory or not partition.base_name.startswith("dt="):
                continue
            try:
                day = date.fromisoformat(partition.base_name[3:])
            except ValueError:
                continue
            if start <= day <= end:
                files = file_system.get_file_info(pafs.FileSelector(partition.path))
                volume[day] = volume.get(day, 0) + sum(f.size or 0 for f in files if not f.base_name.startswith(("_", ".")))
    return volume


def plan_chunks(settings: Settings, start: date, end: date, chunk_days: int | None = None, finished: set[date] = frozenset()) -> list[Chunk]:
    """The chunks of the days of [start, end] not yet `finished`: of `chunk_days` days each,
    or, without it, sized by the days' landed bytes against CHUNK_MEMORY_SHARE of the driver's
    memory (`landed_bytes_by_day`; at most MAX_CHUNK_DAYS days)."""
    _check_range(start, end)
    left = [day for day in Chunk(start, end).days if day not in finished]
    runs = [Chunk(first, last) for first, last in _consecutive(left)]
    if chunk_days is not None:
        return [chunk for run in runs for chunk in chunks(run.first, run.last, chunk_days)]
    try:
        volume = landed_bytes_by_day(settings.landing, start, end)
        budget = int(memory_bytes(settings.spark_conf.get("spark.driver.memory", settings.driver_memory)) * CHUNK_MEMORY_SHARE)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        log.warning("Cannot size the chunks by the data in %s (%s): chunks of %d days.", settings.landing, error, FALLBACK_CHUNK_DAYS)
        return [chunk for run in runs for chunk in chunks(run.first, run.last, FALLBACK_CHUNK_DAYS)]
    return [chunk for run in runs for chunk in chunks_by_volume(run.first, run.last, volume, budget)]


def _consecutive(days: list[date]) -> list[tuple[date, date]]:
    """Runs of consecutive days of the sorted `days`, as (first, last)."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _log_path(settings: Settings) -> str:
    return BACKFILL_CHUNKS.path(settings)


def finished_days(spark: SparkSession, settings: Settings, backfill: str) -> set[date]:
    """The days of the chunks of `backfill` that already finished (however they were cut)."""
    table = BACKFILL_CHUNKS.ensure(spark, settings)
    rows = table.toDF().where(F.col("backfill_id") == backfill).select("chunk_first", "chunk_last").collect()
    return {day for row in rows for day in Chunk(row["chunk_first"], row["chunk_last"]).days}


def run_chunk(
    spark: SparkSession, settings: Settings, chunk: Chunk, end: date, restate: bool, backfill: str, progress=print
) -> None:
    """The backfilled slices of `chunk` in one slice transaction (compute, gold gate,
    publish: csmetrics.publish.publish_plan): the slices of each of its days, each as of
    that day's own cutoff, computed in one pass (csmetrics.chunk), gated once and published in
    one commit per table. A chunk whose gate holds back a shop-day, or stops, publishes nothing together: its
    days, already computed, are then gated and published one by one, so that each hold
    withholds exactly the slices of the day whose rows failed, within that day's allowance, as
    in the daily runs. The backfill's last day joins the pass of the chunk's other days, with
    all of its slices, unless its daily run would keep final slices final or retry held-back
    shop-days (csmetrics.finality): it then runs after them as that daily run, as it does
    alone in its chunk or after a hold."""
    days = [day for day in chunk.days if day < end]
    if end in chunk.days and days and not _runs_alone(plan_run(spark, settings, end, restate)):
        days.append(end)
    if days:
        done = publish_plan(
            spark, settings, RunPlan.backfill_days(days, end, restate), days_run_id(backfill, days), lambda message: progress(f"  {message}"),
            part_run_id=lambda part: day_run_id(backfill, part.run_date),
        )
        if done is None and end in days:
            days.remove(end)  # a hold: the chunk's days went one by one, and the end is left to its own run
        if days:
            progress(f"  {Chunk(days[0], days[-1])} done")
    if end in chunk.days and end not in days:
        # Planned now, after the days before it: it retries what they held back.
        publish_plan(spark, settings, plan_run(spark, settings, end, restate), day_run_id(backfill, end))
        progress(f"  {end} done")


def _runs_alone(end: RunPlan) -> bool:
    """The backfill's last day runs as its own daily run when that run would keep slices
    final (gold already holds some of its slices final: a restatement, a range run daily
    past it, a retried chunk) or retry held-back shop-days, which one pass does not compute;
    otherwise it joins the one pass of its chunk's other days. (Alone in its chunk, it is
    simply its daily run.)"""
    return bool(end.kept_final or end.retries)


def record_chunk(spark: SparkSession, settings: Settings, chunk: Chunk, backfill: str) -> None:
    """`chunk` of `backfill` finished: a resumed backfill skips its days."""
    row = [(backfill, chunk.first, chunk.last, datetime.now(UTC))]
    spark.createDataFrame(row, BACKFILL_CHUNKS_SCHEMA).write.format("delta").mode("append").save(_log_path(settings))


def day_run_id(backfill: str, day: date) -> str:
    return f"{backfill}__{day}"


def days_run_id(backfill: str, days: list[date]) -> str:
    """The run id of a chunk's days computed in one pass (one day: that day's)."""
    return day_run_id(backfill, days[0]) if len(days) == 1 else f"{backfill}__{days[0]}_{days[-1]}"


def derive_range(spark: SparkSession, settings: Settings, start: date, end: date, backfill: str) -> dict[str, int]:
    """Derived tables for every slice the backfill wrote (its days' plans, back to start -
    longest window, and the dates of the held-back shop-days its last day finalised)."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    written = RunPlan.backfill_days(days, end).metrics_by_date()
    settled = every_metric(dates_settled_by(spark, settings, day_run_id(backfill, end)))
    return derive(spark, settings, changed_slices(written, settled), backfill, end)
