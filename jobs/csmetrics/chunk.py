"""A backfill chunk's days computed in one pass, each day as of its own cutoff.

Each backfill day owns its final slices and must see bronze as it had landed by its own
cutoff (docs/maturity.md, "A backfill chunk in one pass"). Computing the days one by one
costs a whole computation's jobs a day. Instead, the chunk reads each bronze table once and
gives every day its own copy of the versions that day saw:
- a version whose event date lies within what that day's families read,
- that had landed by the day's cutoff,
- and is the latest such version of its key.

Each copy's shop, session and order ids carry the day's index as a suffix. Every join,
window and aggregation of the families keys on one of those ids, so the days stay apart
without any family knowing of them. The computed rows then lose the suffix, and each day keeps
only its own slices. The rows are those of the days computed one by one (test_maturity).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.bronze import bronze_path, latest_versions
from csmetrics.compute import PlanInputs, event_dates, family_tables
from csmetrics.config import Settings
from csmetrics.delta_io import table_exists
from csmetrics.metrics.conversation import Reuse
from csmetrics.metrics.families import FAMILIES
from csmetrics.metrics.family import METRIC_ROWS
from csmetrics.metrics.long_format import agent_rows, finish, shop_rows
from csmetrics.metrics.scenes import finish_scenes
from csmetrics.metrics.session_detail import FINAL_WITH as DETAIL_FINAL_WITH
from csmetrics.metrics.session_detail import finish_detail
from csmetrics.plan import RunPlan
from csmetrics.schemas.bronze import EVENT_DATE
from csmetrics.schemas.raw import RAW_TABLES
from csmetrics.tables import AGENT_METRICS_DAILY, PUBLISHED_TABLES, SCENE_METRICS_DAILY, SESSION_DETAIL_DAILY, SHOP_METRICS_DAILY

# The ids a day's copy carries its index in: every input the families join, window or group
# by keys on one of them. A control character, which no upstream id holds, keeps the order of
# ids within a day as it was.
DAY_IDS = ("shop_id", "session_id", "order_id")
SEPARATOR = "\u001f"
_SUFFIX = "\\u001f[0-9]+$"
PART = "_part"


def part_ranges(plan: RunPlan) -> dict[str, list[tuple[int, object, object]]]:
    """{table: [(day index, first, last UTC event date)]}: what each day of the chunk reads of each table."""
    ranges: dict[str, list] = {}
    for index, part in enumerate(plan.parts):
        of_day: dict[str, tuple] = {}
        for name, family in FAMILIES.items():
            dates = part.dates_for(name)
            for read in family.reads if dates else ():
                first, last = event_dates(read, dates)
                known = of_day.get(read.table, (first, last))
                of_day[read.table] = (min(first, known[0]), max(last, known[1]))
        for table, (first, last) in of_day.items():
            ranges.setdefault(table, []).append((index, first, last))
    return ranges


def with_day(frame: DataFrame, index: Column) -> DataFrame:
    """`frame` with the day's `index` appended to each of its DAY_IDS."""
    for column in DAY_IDS:
        if column in frame.columns:
            frame = frame.withColumn(column, F.concat(F.col(column), F.lit(SEPARATOR), index.cast("string")))
    return frame


def day_of(column: str) -> Column:
    return F.regexp_extract(F.col(column), _SUFFIX.replace("[0-9]+", "([0-9]+)"), 1).cast("int")


def without_day(frame: DataFrame) -> DataFrame:
    for column in DAY_IDS:
        if column in frame.columns:
            frame = frame.withColumn(column, F.regexp_replace(F.col(column), _SUFFIX, ""))
    return frame


class ChunkInputs(PlanInputs):
    """The bronze inputs of a chunk of backfill days (`RunPlan.backfill_days`): each table
    read once, each day's copy as of its own cutoff, its ids carrying the day (`with_day`)."""

    def __init__(self, spark: SparkSession, settings: Settings, plan: RunPlan, persisted: Reuse):
        if not plan.parts or plan.shop_ids is not None:
            raise ValueError("ChunkInputs computes the days of a backfill chunk, for every shop")
        self._part_ranges = part_ranges(plan)
        super().__init__(spark, settings, plan, persisted)

    def _read(self, table: str) -> DataFrame:
        spark, path = self._spark, bronze_path(self._settings, table)
        if not table_exists(spark, path):
            return super()._read(table)
        days = spark.createDataFrame(
            [(index, first, last, self._plan.parts[index].cutoff) for index, first, last in self._part_ranges[table]],
            f"{PART} int, _first date, _last date, _cutoff timestamp",
        )
        first, last = self._ranges[table]
        rows = spark.read.format("delta").load(path).where(F.col(EVENT_DATE).between(F.lit(first), F.lit(last)))
        seen = F.col(EVENT_DATE).between(F.col("_first"), F.col("_last")) & (F.col("_cutoff").isNull() | (F.col("_landed_at") <= F.col("_cutoff")))
        return self._as_days(rows.join(F.broadcast(days), seen), table, [EVENT_DATE])

    def _read_shops(self) -> DataFrame:
        spark, path = self._spark, bronze_path(self._settings, "shops")
        if not table_exists(spark, path):
            return super()._read_shops()
        days = spark.createDataFrame([(index, part.cutoff) for index, part in enumerate(self._plan.parts)], f"{PART} int, _cutoff timestamp")
        seen = F.col("_cutoff").isNull() | (F.col("_landed_at") <= F.col("_cutoff"))
        return self._as_days(spark.read.format("delta").load(path).join(F.broadcast(days), seen), "shops", [])

    @staticmethod
    def _as_days(copies: DataFrame, table: str, kept: list[str]) -> DataFrame:
        latest = latest_versions(copies, table, within=(PART,))
        return with_day(latest.select(*RAW_TABLES[table].columns, *kept, PART), F.col(PART)).drop(PART)


def _own(frame: DataFrame, owned: DataFrame) -> DataFrame:
    """The rows of `frame` (ids carrying their day) that their day owns (`owned`: the day and
    the key columns it owns)."""
    keys = [c for c in owned.columns if c != PART]
    return frame.withColumn(PART, day_of("shop_id")).join(F.broadcast(owned), [PART, *keys]).drop(PART)


def chunk_tables(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str, persisted: Reuse) -> dict[str, DataFrame]:
    """Each published table's rows of the chunk's days, computed in one pass (lazy, but for
    the finished metric rows, which every table is cut from)."""
    inputs = ChunkInputs(spark, settings, plan, persisted)
    computed = family_tables(spark, settings, plan, persisted, inputs)
    slices = spark.createDataFrame(
        [(index, day, metric) for index, part in enumerate(plan.parts) for day, metric in part.slices or ()],
        f"{PART} int, stat_date date, metric string",
    )
    now, kept_final = datetime.now(UTC), F.expr(plan.kept_final_predicate())
    finished = persisted(without_day(finish(_own(computed[METRIC_ROWS], slices), inputs.shops, plan.run_date, run_id, now, kept_final)))
    tables = {
        SHOP_METRICS_DAILY.name: shop_rows(finished, SHOP_METRICS_DAILY.schema),
        AGENT_METRICS_DAILY.name: agent_rows(finished, AGENT_METRICS_DAILY.schema),
    }
    detail = computed.get(SESSION_DETAIL_DAILY.name)
    if detail is None:
        tables[SESSION_DETAIL_DAILY.name] = spark.createDataFrame([], SESSION_DETAIL_DAILY.schema)
    else:
        conversation_days = spark.createDataFrame(
            [(index, day) for index, part in enumerate(plan.parts) for day in part.dates_for("conversation")], f"{PART} int, stat_date date"
        )
        detail_kept_final = [day for day, metric in plan.kept_final if metric == DETAIL_FINAL_WITH]
        tables[SESSION_DETAIL_DAILY.name] = without_day(
            finish_detail(_own(detail, conversation_days), plan.run_date, run_id, now, detail_kept_final)
        )
    scenes = computed.get(SCENE_METRICS_DAILY.name)
    if scenes is None:
        tables[SCENE_METRICS_DAILY.name] = spark.createDataFrame([], SCENE_METRICS_DAILY.schema)
    else:
        tables[SCENE_METRICS_DAILY.name] = without_day(finish_scenes(_own(scenes, slices), inputs.shops, plan.run_date, run_id, now, kept_final))
    return {table.name: tables[table.name].select(*table.schema.fieldNames()) for table in PUBLISHED_TABLES}


def part_rows(tables: dict[str, DataFrame], part: RunPlan) -> dict[str, DataFrame]:
    """The rows of one day of the chunk (its slices are disjoint from the other days')."""
    conversation = part.dates_for("conversation")
    own_detail = F.col("stat_date").isin(conversation) if conversation else F.lit(False)
    return {
        name: frame.where(own_detail if name == SESSION_DETAIL_DAILY.name else F.expr(part.replace_predicate()))
        for name, frame in tables.items()
    }
