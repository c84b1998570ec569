"""The compute job: bronze as it had landed by the run's cutoff -> the rows of each published gold table."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics import conformed
from csmetrics.bronze import read_bronze
from csmetrics.config import Settings
from csmetrics.conformed import paid_days
from csmetrics.metrics.conversation import Reuse, as_is
from csmetrics.metrics.families import FAMILIES
from csmetrics.metrics.family import METRIC_ROWS, TIMEZONE_MARGIN_DAYS, Family, Read
from csmetrics.metrics.long_format import agent_rows, finish, shop_rows
from csmetrics.metrics.scenes import finish_scenes
from csmetrics.metrics.session_detail import FINAL_WITH as DETAIL_FINAL_WITH
from csmetrics.metrics.session_detail import finish_detail
from csmetrics.plan import RunPlan
from csmetrics.schemas.bronze import EVENT_DATE
from csmetrics.spark import materialized, release_materialized
from csmetrics.tables import (
    AGENT_METRICS_DAILY,
    PUBLISHED_TABLES,
    SCENE_METRICS_DAILY,
    SESSION_DETAIL_DAILY,
    SHOP_METRICS_DAILY,
    drop_stale_staging,
    write_staging,
)


class Persisted:
    """The frames one job reads several times, persisted for that job and released after it."""

    def __init__(self) -> None:
        self._frames: list[DataFrame] = []

    def __call__(self, frame: DataFrame) -> DataFrame:
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._frames.append(frame)
        return frame

    def materialize(self, frame: DataFrame) -> DataFrame:
        """`frame` computed now and held (memory, then local disk) under a plan of its own.

        A persisted frame keeps the whole job's plan beneath it, and Spark plans that again
        for every query over it: the gold gate's views of a 3-shop day took 40 s of planning,
        against 9 s over materialized rows. The blocks live on the executors, like a cache's;
        an executor lost before the publish fails the run, whose retry computes again."""
        frame = materialized(frame)
        self._frames.append(frame)
        return frame

    def release(self) -> None:
        for frame in self._frames:
            frame.unpersist()
            release_materialized(frame)
        self._frames.clear()


class PlanInputs:
    """The bronze inputs of one plan as bronze had them at the plan's cutoff, for the plan's
    shops. Each table is read and deduplicated once, over the widest UTC event-date range
    any of the plan's families reads it; a table several families read is persisted and cut
    to each family's own range. (A record's event date never changes between its versions,
    so cutting after deduplicating keeps the same rows as cutting before.)"""

    def __init__(self, spark: SparkSession, settings: Settings, plan: RunPlan, persisted: Reuse):
        self._spark, self._settings, self._plan, self._persisted = spark, settings, plan, persisted
        self._ranges: dict[str, tuple[date, date]] = {}
        self._readers: Counter[str] = Counter()
        for name, family in FAMILIES.items():
            for read in family.reads if plan.dates_for(name) else ():
                first, last = event_dates(read, plan.dates_for(name))
                known = self._ranges.get(read.table, (first, last))
                self._ranges[read.table] = (min(first, known[0]), max(last, known[1]))
                self._readers[read.table] += 1
        self._frames: dict[str, DataFrame] = {}
        self._conformed_sessions: DataFrame | None = None
        self._conformed_dates: list[date] = []
        # Every family and the finishing of the rows read the snapshot: read it once.
        self.shops = persisted(self._read_shops())

    def read(self, table: str, family: str) -> DataFrame:
        """`table`'s rows of the UTC event dates `family` reads for its dates (`event_dates`,
        within the plan's widest range)."""
        first, last = event_dates(FAMILIES[family].read_of(table), self._plan.dates_for(family))
        rows = self._stored(table).where(F.col(EVENT_DATE).between(F.lit(first), F.lit(last)))
        return self._of_family(rows, table, family).drop(EVENT_DATE)

    def _of_family(self, rows: DataFrame, table: str, family: str) -> DataFrame:
        """What of `rows` (of `table`, with their event date) `family` reads: all of them, here."""
        return rows

    def _stored(self, table: str) -> DataFrame:
        """`table` over the plan's widest range, with its UTC event date."""
        frame = self._frames.get(table)
        if frame is None:
            frame = self._read(table)
            self._frames[table] = frame = self._persisted(frame) if self._readers[table] > 1 else frame
        return frame

    def _read(self, table: str) -> DataFrame:
        """`table` as of the plan's cutoff over the plan's widest range, with its UTC event date."""
        rows = read_bronze(self._spark, self._settings, table, self._ranges[table], self._plan.cutoff, with_event_date=True)
        return of_plan_shops(rows, self._plan)

    def _read_shops(self) -> DataFrame:
        return of_plan_shops(read_bronze(self._spark, self._settings, "shops", cutoff=self._plan.cutoff), self._plan)

    def sessions_of_dates(self, dates: list[date], family: str) -> DataFrame:
        """The sessions of local `dates` (csmetrics.conformed.sessions_of_dates) for `family`,
        one with `conformed_sessions`. They are conformed once, for every date of those families,
        persisted, and cut to `dates`. Each such family reads sessions at least a day either
        side of its dates (tests/unit/test_registry.py holds them to it), which is all a local
        date can reach, so the cut holds exactly the rows the family would conform itself."""
        if self._conformed_sessions is None:
            self._conformed_dates = sorted(
                {day for name, family in FAMILIES.items() if family.conformed_sessions for day in self._plan.dates_for(name)}
            )
            # Only the UTC days a session of those local dates can have started on.
            reach = range(-TIMEZONE_MARGIN_DAYS, TIMEZONE_MARGIN_DAYS + 1)
            started = sorted({day + timedelta(days=offset) for day in self._conformed_dates for offset in reach})
            sessions = self._stored("sessions").where(F.col(EVENT_DATE).isin(started)).drop(EVENT_DATE)
            self._conformed_sessions = self._persisted(conformed.sessions_of_dates(sessions, self.shops, self._conformed_dates))
        if not set(dates) <= set(self._conformed_dates):
            raise ValueError(f"sessions of {dates} asked for; conformed for {self._conformed_dates} (a family without conformed_sessions?)")
        return self._sessions_of_family(self._conformed_sessions.where(F.col("stat_date").isin(dates)), family)

    def _sessions_of_family(self, sessions: DataFrame, family: str) -> DataFrame:
        """What of the conformed `sessions` `family` reads: all of them, here."""
        return sessions


def event_dates(read: Read, dates: list[date]) -> tuple[date, date]:
    """The UTC event dates a family's `read` covers for its local `dates`."""
    return dates[0] - timedelta(days=read.before), dates[-1] + timedelta(days=read.after)


class BronzeInputs:
    """One family's declared inputs (the plan's, cut to the UTC event dates its `Read` gives
    around the family's dates)."""

    def __init__(self, settings: Settings, family: Family, inputs: PlanInputs, reuse: Reuse):
        self._inputs, self._family = inputs, family
        self.shops = inputs.shops
        self.business_start, self.business_end = settings.business_start, settings.business_end
        self.reuse = reuse

    def read(self, table: str) -> DataFrame:
        return self._inputs.read(table, self._family.name)

    def paid(self) -> DataFrame:
        return paid_days(self.read("orders"), self.shops)

    def sessions_of_dates(self, dates: list[date]) -> DataFrame:
        """The sessions of the family's `dates`, conformed to local dates (shared by the plan)."""
        return self._inputs.sessions_of_dates(dates, self._family.name)


def of_plan_shops(frame: DataFrame, plan: RunPlan) -> DataFrame:
    """The rows of the plan's shops (all rows when the plan is for every shop)."""
    return frame if plan.shop_ids is None else frame.where(F.col("shop_id").isin(list(plan.shop_ids)))


def family_tables(
    spark: SparkSession, settings: Settings, plan: RunPlan, reuse: Reuse = as_is, inputs: PlanInputs | None = None
) -> dict[str, DataFrame]:
    """What every family of the plan computes from its declared inputs, unioned by table:
    the long metric rows of both grains (METRIC_ROWS), cut to exactly the (stat_date, metric)
    slices the plan owns, and the gold tables families compute beside them (the scene
    metrics, the session detail: csmetrics.metrics.family)."""
    inputs = inputs or PlanInputs(spark, settings, plan, reuse)
    tables: dict[str, DataFrame] = {}
    for name, family in FAMILIES.items():
        if not plan.dates_for(name):
            continue
        for table, frame in family.compute(BronzeInputs(settings, family, inputs, reuse), plan.dates_for(name)).items():
            tables[table] = tables[table].unionByName(frame) if table in tables else frame
    # Families compute whole date ranges; keep exactly the slices the plan owns.
    tables[METRIC_ROWS] = tables[METRIC_ROWS].where(F.expr(plan.replace_predicate()))
    return tables


def detail_rows(spark: SparkSession, plan: RunPlan, run_id: str, detail: DataFrame | None) -> DataFrame:
    """The session detail of the dates the plan owns the conversation metrics of (empty when none)."""
    if detail is None:
        return spark.createDataFrame([], SESSION_DETAIL_DAILY.schema)
    owned = plan.dates_for("conversation")
    kept_final = [day for day, metric in plan.kept_final if metric == DETAIL_FINAL_WITH]
    return finish_detail(detail.where(F.col("stat_date").isin(owned)), plan.run_date, run_id, datetime.now(UTC), kept_final)


def scene_rows(spark: SparkSession, plan: RunPlan, run_id: str, rows: DataFrame | None, shops: DataFrame) -> DataFrame:
    """The scene metrics of the (date, metric) slices the plan owns (empty when no family
    with a scene view runs)."""
    if rows is None:
        return spark.createDataFrame([], SCENE_METRICS_DAILY.schema)
    return finish_scenes(
        rows.where(F.expr(plan.replace_predicate())), shops, plan.run_date, run_id, datetime.now(UTC),
        F.expr(plan.kept_final_predicate()),
    )


def staged_rows(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str, persisted: Persisted) -> dict[str, DataFrame]:
    """Each published table's rows of the plan's slices (empty frames when it owns none)."""
    if plan.parts:
        raise ValueError("a backfill chunk's days are computed in one pass, each as of its own cutoff (csmetrics.chunk)")
    if not plan.dates:
        return {table.name: spark.createDataFrame([], table.schema) for table in PUBLISHED_TABLES}
    inputs = PlanInputs(spark, settings, plan, persisted)
    computed = family_tables(spark, settings, plan, persisted, inputs)
    # Every table comes from one computation: without persisting the finished rows, each
    # write would run the whole job again. They are few (shops x metrics x dates); the work
    # behind them is large.
    finished = persisted(
        finish(computed[METRIC_ROWS], inputs.shops, plan.run_date, run_id, datetime.now(UTC), F.expr(plan.kept_final_predicate()))
    )
    return {
        SHOP_METRICS_DAILY.name: shop_rows(finished, SHOP_METRICS_DAILY.schema),
        AGENT_METRICS_DAILY.name: agent_rows(finished, AGENT_METRICS_DAILY.schema),
        SESSION_DETAIL_DAILY.name: detail_rows(spark, plan, run_id, computed.get(SESSION_DETAIL_DAILY.name))
        .select(*SESSION_DETAIL_DAILY.schema.fieldNames()),
        SCENE_METRICS_DAILY.name: scene_rows(spark, plan, run_id, computed.get(SCENE_METRICS_DAILY.name), inputs.shops)
        .select(*SCENE_METRICS_DAILY.schema.fieldNames()),
    }


def retried_rows(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str, persisted: Persisted) -> dict[str, DataFrame]:
    """The rows of the plan's retries: their slices computed for their shops only, final, and
    kept to the retried (stat_date, shop_id, metric)."""
    retry = plan.retry_plan()
    if retry is None:
        return {}
    rows = staged_rows(spark, settings, retry, run_id, persisted)
    return {
        name: frame.where(F.expr(plan.retry_predicate(shop_days_of=DETAIL_FINAL_WITH) if name == SESSION_DETAIL_DAILY.name else plan.retry_predicate()))
        for name, frame in rows.items()
    }


def computed_tables(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str, persisted: Persisted) -> dict[str, DataFrame]:
    """Each published table's rows of the plan: its slices, then its retries (lazy)."""
    tables = staged_rows(spark, settings, plan, run_id, persisted)
    for name, rows in retried_rows(spark, settings, plan, run_id, persisted).items():
        tables[name] = tables[name].unionByName(rows)
    return tables


def stage(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str) -> dict[str, str]:
    """Compute the plan's rows and write each gold table's share of them to its staging
    location, for a gate and a publish in other processes (`csmetrics compute`); return the paths."""
    drop_stale_staging(spark, settings)
    persisted = Persisted()
    try:
        return write_staging(settings, computed_tables(spark, settings, plan, run_id, persisted), run_id)
    finally:
        persisted.release()
