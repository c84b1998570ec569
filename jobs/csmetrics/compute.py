"""The compute job: bronze as it had landed by the run's cutoff -> metric rows in a staging table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.bronze import read_bronze
from csmetrics.config import Settings
from csmetrics.conformed import paid_days
from csmetrics.metrics.conversation import Reuse, as_is
from csmetrics.metrics.families import FAMILIES
from csmetrics.metrics.family import Family
from csmetrics.metrics.long_format import agent_rows, finish, shop_rows
from csmetrics.metrics.scenes import finish_scenes
from csmetrics.metrics.session_detail import FINAL_WITH as DETAIL_FINAL_WITH
from csmetrics.metrics.session_detail import finish_detail
from csmetrics.plan import RunPlan
from csmetrics.tables import (
    AGENT_METRICS_DAILY,
    PUBLISHED_TABLES,
    SCENE_METRICS_DAILY,
    SESSION_DETAIL_DAILY,
    SHOP_METRICS_DAILY,
    drop_stale_staging,
    staging_path,
)


class Persisted:
    """The frames one job reads several times, persisted for that job and released after it."""

    def __init__(self) -> None:
        self._frames: list[DataFrame] = []

    def __call__(self, frame: DataFrame) -> DataFrame:
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._frames.append(frame)
        return frame

    def release(self) -> None:
        for frame in self._frames:
            frame.unpersist()
        self._frames.clear()


class BronzeInputs:
    """One family's declared inputs as bronze had them at the plan's cutoff, each pruned to
    the UTC event dates its `Read` gives around the family's dates (and to the plan's shops)."""

    def __init__(
        self, spark: SparkSession, settings: Settings, plan: RunPlan, family: Family, shops: DataFrame, reuse: Reuse, kept: dict[str, DataFrame]
    ):
        self._spark, self._settings, self._plan, self._family = spark, settings, plan, family
        self._dates = plan.dates_for(family.name)
        self.shops = shops
        self.business_start, self.business_end = settings.business_start, settings.business_end
        self.reuse = reuse
        self._kept = kept

    def keep(self, table: str, frame: DataFrame) -> None:
        """Rows of a table the family computes beside its metric rows (the session detail,
        the scene metrics); several families' rows of one table are unioned."""
        self._kept[table] = self._kept[table].unionByName(frame) if table in self._kept else frame

    def read(self, table: str) -> DataFrame:
        read = self._family.read_of(table)
        event_dates = (self._dates[0] - timedelta(days=read.before), self._dates[-1] + timedelta(days=read.after))
        return of_plan_shops(read_bronze(self._spark, self._settings, table, event_dates, self._plan.cutoff), self._plan)

    def paid(self) -> DataFrame:
        return paid_days(self.read("orders"), self.shops)


def of_plan_shops(frame: DataFrame, plan: RunPlan) -> DataFrame:
    """The rows of the plan's shops (all rows when the plan is for every shop)."""
    return frame if plan.shop_ids is None else frame.where(F.col("shop_id").isin(list(plan.shop_ids)))


def plan_shops(spark: SparkSession, settings: Settings, plan: RunPlan) -> DataFrame:
    """The shop snapshot as of the plan's cutoff, for the plan's shops."""
    return of_plan_shops(read_bronze(spark, settings, "shops", cutoff=plan.cutoff), plan)


def metric_rows(
    spark: SparkSession, settings: Settings, plan: RunPlan, reuse: Reuse = as_is, kept: dict[str, DataFrame] | None = None
) -> DataFrame:
    """Long metric rows (both grains) of every (stat_date, metric) slice the plan owns: each
    family of the plan computes its dates from its declared inputs. Tables a family computes
    beside its metrics go into `kept`."""
    shops = plan_shops(spark, settings, plan)
    kept = {} if kept is None else kept
    parts = [
        family.compute(BronzeInputs(spark, settings, plan, family, shops, reuse, kept), plan.dates_for(name))
        for name, family in FAMILIES.items()
        if plan.dates_for(name)
    ]
    # Families compute whole date ranges; keep exactly the slices the plan owns.
    return reduce(DataFrame.unionByName, parts).where(F.expr(plan.replace_predicate()))


def finished_rows(
    spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str, reuse: Reuse = as_is, kept: dict[str, DataFrame] | None = None
) -> DataFrame:
    """Metric rows of both grains with value, maturity and lineage (lazy)."""
    rows = metric_rows(spark, settings, plan, reuse, kept)
    return finish(rows, plan_shops(spark, settings, plan), plan.run_date, run_id, datetime.now(UTC), F.expr(plan.kept_final_predicate()))


def detail_rows(spark: SparkSession, plan: RunPlan, run_id: str, kept: dict[str, DataFrame]) -> DataFrame:
    """The session detail of the dates the plan owns the conversation metrics of (empty when none)."""
    detail = kept.get(SESSION_DETAIL_DAILY.name)
    if detail is None:
        return spark.createDataFrame([], SESSION_DETAIL_DAILY.schema)
    owned = plan.dates_for("conversation")
    kept_final = [day for day, metric in plan.kept_final if metric == DETAIL_FINAL_WITH]
    return finish_detail(detail.where(F.col("stat_date").isin(owned)), plan.run_date, run_id, datetime.now(UTC), kept_final)


def scene_rows(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str, kept: dict[str, DataFrame]) -> DataFrame:
    """The scene metrics of the (date, metric) slices the plan owns (empty when no family
    with a scene view runs)."""
    rows = kept.get(SCENE_METRICS_DAILY.name)
    if rows is None:
        return spark.createDataFrame([], SCENE_METRICS_DAILY.schema)
    return finish_scenes(
        rows.where(F.expr(plan.replace_predicate())), plan_shops(spark, settings, plan), plan.run_date, run_id, datetime.now(UTC),
        F.expr(plan.kept_final_predicate()),
    )


def staged_rows(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str, persisted: Persisted) -> dict[str, DataFrame]:
    """Each published table's rows of the plan's slices (empty frames when it owns none)."""
    if not plan.dates:
        return {table.name: spark.createDataFrame([], table.schema) for table in PUBLISHED_TABLES}
    kept: dict[str, DataFrame] = {}
    # Every table comes from one computation: without persisting the finished rows, each
    # write would run the whole job again. They are few (shops x metrics x dates); the work
    # behind them is large.
    finished = persisted(finished_rows(spark, settings, plan, run_id, persisted, kept))
    return {
        SHOP_METRICS_DAILY.name: shop_rows(finished, SHOP_METRICS_DAILY.schema),
        AGENT_METRICS_DAILY.name: agent_rows(finished, AGENT_METRICS_DAILY.schema),
        SESSION_DETAIL_DAILY.name: detail_rows(spark, plan, run_id, kept).select(*SESSION_DETAIL_DAILY.schema.fieldNames()),
        SCENE_METRICS_DAILY.name: scene_rows(spark, settings, plan, run_id, kept).select(*SCENE_METRICS_DAILY.schema.fieldNames()),
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


def stage(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str) -> dict[str, str]:
    """Compute the plan's rows (its slices, then its retries) and write each gold table's
    share of them to its staging location; return the paths."""
    drop_stale_staging(spark, settings)
    persisted = Persisted()
    tables = staged_rows(spark, settings, plan, run_id, persisted)
    for name, rows in retried_rows(spark, settings, plan, run_id, persisted).items():
        tables[name] = tables[name].unionByName(rows)
    paths = {}
    try:
        for table, rows in tables.items():
            path = staging_path(settings, table, run_id)
            rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
            paths[table] = path
    finally:
        persisted.release()
    return paths
