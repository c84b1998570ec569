"""Turning wide aggregates into the long rows of SPEC §5, at shop and agent grain."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from csmetrics import DEFINITION_VERSION, registry
from csmetrics.registry import AGENT

UNASSIGNED = "unassigned"
KEYS = ["stat_date", "shop_id", "agent_id"]


def aggregate_both_grains(frame: DataFrame, agent: Column, measures: dict[str, tuple[Column, Column | None]]) -> DataFrame:
    """Aggregate `measures` (metric -> (numerator, denominator)) per shop and per agent in one pass.

    Returns long rows: stat_date, shop_id, agent_id (null at shop grain), metric,
    numerator, denominator.
    """
    aggregates = []
    for metric, (numerator, denominator) in measures.items():
        aggregates.append(numerator.cast("double").alias(f"{metric}__n"))
        aggregates.append((denominator if denominator is not None else F.lit(None)).cast("double").alias(f"{metric}__d"))
    grouped = frame.withColumn("agent_id", agent).groupingSets(
        [["stat_date", "shop_id"], ["stat_date", "shop_id", "agent_id"]], "stat_date", "shop_id", "agent_id"
    ).agg(*aggregates, F.grouping("agent_id").alias("_shop_grain"))
    rows = F.explode(
        F.array(
            *[
                F.struct(F.lit(m).alias("metric"), F.col(f"{m}__n").alias("numerator"), F.col(f"{m}__d").alias("denominator"))
                for m in measures
            ]
        )
    )
    long = grouped.select("stat_date", "shop_id", "agent_id", "_shop_grain", rows.alias("r")).select(
        "stat_date", "shop_id", "agent_id", "_shop_grain", "r.*"
    )
    agent_metrics = [m.id for m in registry.metrics(grain=AGENT)]
    keep = (F.col("_shop_grain") == 1) | F.col("metric").isin(agent_metrics)
    return long.where(keep).withColumn(
        "agent_id", F.when(F.col("_shop_grain") == 1, F.lit(None)).otherwise(F.col("agent_id"))
    ).drop("_shop_grain")


def finish(
    long: DataFrame, shops: DataFrame, run_date: date, run_id: str, computed_at, segment: str = "all"
) -> DataFrame:
    """Apply the emission rule, value, maturity and final_after (SPEC §4-5)."""
    kinds = F.create_map(*[x for m in registry.METRICS for x in (F.lit(m.id), F.lit(m.kind))])
    windows = F.create_map(*[x for m in registry.METRICS for x in (F.lit(m.id), F.lit(m.window_days))])
    has_denominator = kinds[F.col("metric")].isin(registry.RATIO, registry.MEAN)
    window = windows[F.col("metric")]
    emitted = long.where(
        F.when(has_denominator, F.col("denominator") > 0).otherwise(F.col("numerator") > 0)
    )
    zone = shops.select("shop_id", "timezone")
    return (
        emitted.join(F.broadcast(zone), "shop_id")
        .withColumn("segment", F.lit(segment))
        .withColumn("denominator", F.when(has_denominator, F.col("denominator")))
        .withColumn("value", F.when(has_denominator, F.col("numerator") / F.col("denominator")).otherwise(F.col("numerator")))
        .withColumn(
            "maturity",
            F.when(F.col("stat_date") <= F.date_sub(F.lit(run_date), window), F.lit("final")).otherwise(F.lit("provisional")),
        )
        .withColumn("final_after", _final_after(window))
        .withColumn("definition_version", F.lit(DEFINITION_VERSION))
        .withColumn("run_id", F.lit(run_id))
        .withColumn("computed_at", F.lit(computed_at).cast("timestamp"))
        .drop("timezone")
    )


def _final_after(window: Column) -> Column:
    """UTC end of local day stat_date + w: when the value becomes final."""
    return F.to_utc_timestamp(F.date_add(F.col("stat_date"), window + 1).cast("timestamp"), F.col("timezone"))


def shop_rows(finished: DataFrame, schema) -> DataFrame:
    return finished.where(F.col("agent_id").isNull()).select(*schema.fieldNames())


def agent_rows(finished: DataFrame, schema) -> DataFrame:
    return finished.where(F.col("agent_id").isNotNull()).select(*schema.fieldNames())

