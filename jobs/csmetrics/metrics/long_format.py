"""Turning wide aggregates into the long rows of SPEC §5, at shop and agent grain."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from csmetrics import DEFINITION_VERSION, registry
from csmetrics.conformed import with_shop_zone
from csmetrics.registry import AGENT
from csmetrics.timezones import local_day_end

UNASSIGNED = "unassigned"
KEYS = ["stat_date", "shop_id", "agent_id"]


def count_where(condition: Column) -> Column:
    """The number of rows where `condition` holds (0, not null, when none does)."""
    return F.sum(F.when(condition, 1).otherwise(0))


def _measure_columns(measures: dict[str, tuple[Column, Column | None]]) -> list[Column]:
    columns = []
    for metric, (numerator, denominator) in measures.items():
        columns.append(numerator.cast("double").alias(f"{metric}__n"))
        columns.append((denominator if denominator is not None else F.lit(None)).cast("double").alias(f"{metric}__d"))
    return columns


def _long_structs(metrics: list[str]) -> Column:
    return F.array(
        *[
            F.struct(F.lit(m).alias("metric"), F.col(f"{m}__n").alias("numerator"), F.col(f"{m}__d").alias("denominator"))
            for m in metrics
        ]
    )


def _unpivot(grouped: DataFrame, keys: list[str], measures: dict) -> DataFrame:
    """One long row per (group, metric) from the wide `<metric>__n` / `<metric>__d` columns."""
    return grouped.select(*keys, F.explode(_long_structs(list(measures))).alias("r")).select(*keys, "r.*")


def aggregate_both_grains(frame: DataFrame, agent: Column, measures: dict[str, tuple[Column, Column | None]]) -> DataFrame:
    """Aggregate `measures` (metric -> (numerator, denominator)) per shop and per agent in one pass.

    Returns long rows: stat_date, shop_id, agent_id (null at shop grain), segment "all",
    metric, numerator, denominator. Metrics the registry does not compute per agent keep
    their shop rows only.
    """
    grouped = frame.withColumn("agent_id", agent).groupingSets(
        [["stat_date", "shop_id"], ["stat_date", "shop_id", "agent_id"]], "stat_date", "shop_id", "agent_id"
    ).agg(*_measure_columns(measures), F.grouping("agent_id").alias("_shop_grain"))
    agent_metrics = [m.id for m in registry.metrics(grain=AGENT) if m.id in measures]
    shop_grain = F.col("_shop_grain") == 1
    # Pick each grain's metrics before exploding: filtering the exploded rows on the grouping
    # flag trips Spark's optimizer (the flag is pruned below the generator).
    rows = F.when(shop_grain, _long_structs(list(measures))).otherwise(_long_structs(agent_metrics))
    return grouped.select(
        "stat_date",
        "shop_id",
        F.when(shop_grain, F.lit(None).cast("string")).otherwise(F.col("agent_id")).alias("agent_id"),
        F.lit("all").alias("segment"),
        F.explode(rows).alias("r"),
    ).select("stat_date", "shop_id", "agent_id", "segment", "r.*")


def aggregate(
    frame: DataFrame, measures: dict[str, tuple[Column, Column | None]], segment: Column | None = None, agent: Column | None = None
) -> DataFrame:
    """Aggregate `measures` per stat_date, shop (and agent when given) and segment (default "all").

    Returns the same long rows as `aggregate_both_grains`.
    """
    frame = frame.withColumn("segment", segment if segment is not None else F.lit("all"))
    frame = frame.withColumn("agent_id", agent if agent is not None else F.lit(None).cast("string"))
    return aggregate_by(frame, ["stat_date", "shop_id", "agent_id", "segment"], measures)


def aggregate_by(frame: DataFrame, keys: list[str], measures: dict[str, tuple[Column, Column | None]]) -> DataFrame:
    """Aggregate `measures` per `keys`: long rows of the keys, metric, numerator, denominator."""
    return _unpivot(frame.groupBy(*keys).agg(*_measure_columns(measures)), keys, measures)


def finish(long: DataFrame, shops: DataFrame, run_date: date, run_id: str, computed_at, kept_final: Column | None = None) -> DataFrame:
    """Apply the emission rule, value, maturity and final_after (SPEC §4-5); rows matching
    `kept_final` stay final whatever their window (see `with_maturity`)."""
    kinds = F.create_map(*[x for m in registry.METRICS for x in (F.lit(m.id), F.lit(m.kind))])
    has_denominator = kinds[F.col("metric")].isin(registry.RATIO, registry.MEAN)
    emitted = long.where(
        F.when(has_denominator, F.col("denominator") > 0).otherwise(F.col("numerator") > 0)
    )
    valued = (
        emitted.withColumn("denominator", F.when(has_denominator, F.col("denominator")))
        .withColumn("value", F.when(has_denominator, F.col("numerator") / F.col("denominator")).otherwise(F.col("numerator")))
    )
    return with_maturity(valued, shops, run_date, run_id, computed_at, kept_final)


def with_maturity(rows: DataFrame, shops: DataFrame, run_date: date, run_id: str, computed_at, kept_final: Column | None = None) -> DataFrame:
    """Maturity and final_after by each row's metric window (SPEC §4), and the run's lineage.

    A row is final when the run for `run_date` is at or after its date's window, or when it
    matches `kept_final`: a slice an earlier run made final stays final when recomputed
    (SPEC §5: a restatement never turns a final row provisional)."""
    windows = F.create_map(*[x for m in registry.METRICS for x in (F.lit(m.id), F.lit(m.window_days))])
    window = windows[F.col("metric")]
    final = F.col("stat_date") <= F.date_sub(F.lit(run_date), window)
    if kept_final is not None:
        final = final | kept_final
    return (
        with_shop_zone(rows, shops)
        .withColumn("maturity", F.when(final, F.lit("final")).otherwise(F.lit("provisional")))
        .withColumn("final_after", _final_after(window))
        .withColumn("definition_version", F.lit(DEFINITION_VERSION))
        .withColumn("run_id", F.lit(run_id))
        .withColumn("computed_at", F.lit(computed_at).cast("timestamp"))
        .drop("timezone")
    )


def _final_after(window: Column) -> Column:
    """UTC end of local day stat_date + w: when the value becomes final."""
    return local_day_end(F.col("stat_date"), F.col("timezone"), window)


def shop_rows(finished: DataFrame, schema) -> DataFrame:
    return finished.where(F.col("agent_id").isNull()).select(*schema.fieldNames())


def agent_rows(finished: DataFrame, schema) -> DataFrame:
    return finished.where(F.col("agent_id").isNotNull()).select(*schema.fieldNames())

