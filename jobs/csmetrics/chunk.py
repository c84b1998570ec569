"""A backfill chunk's days computed in one pass, each day as of its own cutoff.

Each backfill day owns its final slices (the backfill's last day: all of its daily run's) and
must see bronze as it had landed by its own cutoff (docs/maturity.md, "A backfill chunk in
one pass"). Computing the days one by one costs a whole computation's jobs a day. Instead,
the chunk reads each bronze table once and gives every day its own copy of the versions
that day saw:
- a version whose event date lies within what that day's families read,
- that had landed by the day's cutoff,
- and is the latest such version of its key.

Each copy's shop, session and order ids carry the day's number as a prefix. Every join,
window and aggregation of the families keys on one of those ids, so the days stay apart
without any family knowing of them. Each family then reads, of each day's copy, exactly what
it reads for that day when the day is computed alone. The computed rows lose the prefix, and
each day keeps only its own slices (tests/integration/test_chunk_one_pass.py compares each
day with that day computed alone).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.bronze import latest_versions, read_bronze
from csmetrics.compute import PlanInputs, event_dates, family_tables
from csmetrics.config import Settings
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
from csmetrics.tables import AGENT_METRICS_DAILY, PUBLISHED_TABLES, SCENE_METRICS_DAILY, SESSION_DETAIL_DAILY, SHOP_METRICS_DAILY, bronze

# The ids a day's copy carries its number in: every input the families join, window or group
# by keys on one of them (every bronze table has a shop_id). The number comes first, at a
# fixed width, so the ids of one day keep their order.
DAY_IDS = ("shop_id", "session_id", "order_id")
DAY_DIGITS = 4
DAY_SEPARATOR = "\u001f"
_DAY_PREFIX = f"^[0-9]{{{DAY_DIGITS}}}\\u001f"
# The day's number, as a column of the frames that pair days with what they own.
DAY = "_day"


def with_day(frame: DataFrame, day: Column) -> DataFrame:
    """`frame` with the day's number `day` put before each of its DAY_IDS."""
    prefix = F.concat(F.lpad(day.cast("string"), DAY_DIGITS, "0"), F.lit(DAY_SEPARATOR))
    for column in DAY_IDS:
        if column in frame.columns:
            frame = frame.withColumn(column, F.concat(prefix, F.col(column)))
    return frame


def day_of(column: str) -> Column:
    """The day's number an id carries (`with_day`)."""
    return F.substring(F.col(column), 1, DAY_DIGITS).cast("int")


def without_day(frame: DataFrame) -> DataFrame:
    """`frame` with its DAY_IDS as they were before `with_day`."""
    for column in DAY_IDS:
        if column in frame.columns:
            frame = frame.withColumn(column, F.regexp_replace(F.col(column), _DAY_PREFIX, ""))
    return frame


def check_chunk(plan: RunPlan) -> None:
    """A chunk computed in one pass is a `RunPlan.backfill_days`: days that own only final
    slices, and perhaps, last, the backfill's end, which owns all of its slices; for every
    shop, with nothing kept final and no retries (a day that has either runs as its own daily
    run, `csmetrics.finality.plan_run`)."""
    every_shop = all(p.shop_ids is None and not p.retries and not p.kept_final for p in (plan, *plan.parts))
    if not plan.parts or not every_shop or any(part.slices is None for part in plan.parts[:-1]):
        raise ValueError("one pass computes the days of a backfill chunk (RunPlan.backfill_days): their own slices, every shop, no retries")
    if len(plan.parts) >= 10**DAY_DIGITS:
        raise ValueError(f"a chunk of {len(plan.parts)} days: one pass numbers at most {10**DAY_DIGITS - 1}")
    # Rows are finished as of the plan's date: the last day's, at or after every day's.
    if plan.run_date != max(part.run_date for part in plan.parts):
        raise ValueError("a chunk's date is its last day's")
    # The chunk's publish replaces the plan's slices: the days must own exactly those.
    if plan.owned_slices != sorted(s for part in plan.parts for s in part.owned_slices):
        raise ValueError("a chunk's slices must be exactly its days' slices")
    for part in plan.parts:
        if part.slices is None:
            continue  # the backfill's end: its slices are as final as its daily run's
        if not all(part.is_final(day, metric) for day, metric in part.slices):
            raise ValueError(f"backfill day {part.run_date} owns slices that are not final: it runs as its own daily run")


class ChunkInputs(PlanInputs):
    """The bronze inputs of a chunk of backfill days: each table read once, each day's copy as
    of its own cutoff, its ids carrying the day (`with_day`); each family reads of each day's
    copy what it reads for that day alone."""

    def __init__(self, spark: SparkSession, settings: Settings, plan: RunPlan, persisted: Reuse):
        check_chunk(plan)
        super().__init__(spark, settings, plan, persisted)

    def _read(self, table: str) -> DataFrame:
        return self._copies(table)

    def _read_shops(self) -> DataFrame:
        return self._copies("shops")

    def _copies(self, table: str) -> DataFrame:
        """Each day's copy of `table`, over the event dates the day's families read of it (event
        tables) or whole (snapshots), as of the day's cutoff."""
        spark, declared, contract = self._spark, bronze(table), RAW_TABLES[table]
        if not declared.exists(spark, self._settings):
            # Nothing of it has landed: the empty frame read_bronze gives, for every day.
            return read_bronze(spark, self._settings, table, with_event_date=True)
        parts = self._plan.parts
        rows = declared.read(spark, self._settings)
        cutoffs = [part.cutoff for part in parts]
        if None not in cutoffs:
            rows = rows.where(F.col("_landed_at") <= F.lit(max(cutoffs)))
        landed = F.col("_cutoff").isNull() | (F.col("_landed_at") <= F.col("_cutoff"))
        kept = [EVENT_DATE] if contract.event_time else []
        if contract.event_time:
            first, last = self._ranges[table]
            rows = rows.where(F.col(EVENT_DATE).between(F.lit(first), F.lit(last)))
            days = spark.createDataFrame(
                [(day, first, last, parts[day].cutoff) for day, spans in self._day_spans(table).items() for first, last in spans],
                f"{DAY} int, _first date, _last date, _cutoff timestamp",
            )
            copies = rows.join(F.broadcast(days), F.col(EVENT_DATE).between(F.col("_first"), F.col("_last")) & landed)
        else:
            days = spark.createDataFrame([(day, part.cutoff) for day, part in enumerate(parts)], f"{DAY} int, _cutoff timestamp")
            copies = rows.join(F.broadcast(days), landed)
        latest = latest_versions(copies, table, within=(DAY,))
        return with_day(latest.select(*contract.columns, *kept, DAY), F.col(DAY)).drop(DAY)

    def _day_spans(self, table: str) -> dict[int, list[tuple[date, date]]]:
        """{day: disjoint (first, last)}: the UTC event dates of `table` the day's families read
        (a day's resolution family reads two weeks before its others: not the days between)."""
        spans: dict[int, list[tuple[date, date]]] = {}
        for name in FAMILIES:
            for day, span in self._family_ranges(table, name).items():
                spans.setdefault(day, []).append(span)
        return {day: disjoint(found) for day, found in spans.items()}

    def _family_ranges(self, table: str, family: str) -> dict[int, tuple[date, date]]:
        """{day: (first, last)}: the UTC event dates of `table` `family` reads for that day."""
        if table not in FAMILIES[family].tables:
            return {}
        read = FAMILIES[family].read_of(table)
        return {day: event_dates(read, part.dates_for(family)) for day, part in enumerate(self._plan.parts) if part.dates_for(family)}

    def _of_family(self, rows: DataFrame, table: str, family: str) -> DataFrame:
        days = self._spark.createDataFrame(
            [(day, first, last) for day, (first, last) in self._family_ranges(table, family).items()], "_d int, _first date, _last date"
        )
        read = (day_of("shop_id") == F.col("_d")) & F.col(EVENT_DATE).between(F.col("_first"), F.col("_last"))
        return rows.join(F.broadcast(days), read, "left_semi")

    def _sessions_of_family(self, sessions: DataFrame, family: str) -> DataFrame:
        days = self._spark.createDataFrame(
            [(day, stat_date) for day, part in enumerate(self._plan.parts) for stat_date in part.dates_for(family)], "_d int, _stat_date date"
        )
        read = (day_of("shop_id") == F.col("_d")) & (F.col("stat_date") == F.col("_stat_date"))
        return sessions.join(F.broadcast(days), read, "left_semi")


def disjoint(spans: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """Inclusive date spans merged where they overlap or touch, in order."""
    merged: list[tuple[date, date]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


def _own(frame: DataFrame, owned: DataFrame) -> DataFrame:
    """The rows of `frame` (ids carrying their day) that their day owns (`owned`: DAY and the
    key columns the day owns)."""
    keys = [c for c in owned.columns if c != DAY]
    return frame.withColumn(DAY, day_of("shop_id")).join(F.broadcast(owned), [DAY, *keys]).drop(DAY)


def chunk_tables(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str, persisted: Reuse) -> dict[str, DataFrame]:
    """Each published table's rows of the chunk's days, computed in one pass (lazy; the
    finished metric rows, which two tables are cut from, are persisted)."""
    inputs = ChunkInputs(spark, settings, plan, persisted)
    computed = family_tables(spark, settings, plan, persisted, inputs)
    slices = spark.createDataFrame(
        [(day, stat_date, metric) for day, part in enumerate(plan.parts) for stat_date, metric in part.owned_slices],
        f"{DAY} int, stat_date date, metric string",
    )
    # Each slice is as final at the chunk's last day as at its own day's run (final, or the
    # backfill's end's own): its rows come out as each day's would.
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
            [(day, stat_date) for day, part in enumerate(plan.parts) for stat_date in part.dates_for("conversation")],
            f"{DAY} int, stat_date date",
        )
        detail_kept_final = [stat_date for stat_date, metric in plan.kept_final if metric == DETAIL_FINAL_WITH]
        tables[SESSION_DETAIL_DAILY.name] = without_day(
            finish_detail(_own(detail, conversation_days), plan.run_date, run_id, now, detail_kept_final)
        )
    scenes = computed.get(SCENE_METRICS_DAILY.name)
    if scenes is None:
        tables[SCENE_METRICS_DAILY.name] = spark.createDataFrame([], SCENE_METRICS_DAILY.schema)
    else:
        tables[SCENE_METRICS_DAILY.name] = without_day(finish_scenes(_own(scenes, slices), inputs.shops, plan.run_date, run_id, now, kept_final))
    return {table.name: tables[table.name].select(*table.schema.fieldNames()) for table in PUBLISHED_TABLES}


def day_rows(tables: dict[str, DataFrame], part: RunPlan) -> dict[str, DataFrame]:
    """The rows of one day of the chunk (its slices are disjoint from the other days')."""
    conversation = part.dates_for("conversation")
    own_detail = F.col("stat_date").isin(conversation) if conversation else F.lit(False)
    return {
        name: frame.where(own_detail if name == SESSION_DETAIL_DAILY.name else F.expr(part.replace_predicate()))
        for name, frame in tables.items()
    }
