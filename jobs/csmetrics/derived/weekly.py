"""ISO-week and calendar-month rollups of daily metric rows, and the governance thresholds
checked on the weeks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from csmetrics import registry


def week_start(day: Column) -> Column:
    """Monday of the ISO week (Spark's `date_trunc('week')` starts weeks on Monday)."""
    return F.to_date(F.date_trunc("week", day))


def _by_metric(attribute) -> Column:
    return F.create_map(*[x for m in registry.METRICS for x in (F.lit(m.id), F.lit(attribute(m)))])


def latest_final_days(daily: DataFrame, horizons: Mapping[str, tuple[date, date]]) -> DataFrame:
    """(metric, one column per named horizon [first, last]): the latest stat_date within it
    whose rows of the metric are final, all horizons in one aggregate over one read of
    `daily`. Maturity moves forward one whole (date, metric) slice at a time, so every
    earlier date is final too. A row per metric: derive collects it as the `finality` of
    `period_rows`."""
    first, last = min(span[0] for span in horizons.values()), max(span[1] for span in horizons.values())
    final = daily.where((F.col("maturity") == "final") & F.col("stat_date").between(F.lit(first), F.lit(last)))
    within = {name: F.when(F.col("stat_date").between(F.lit(a), F.lit(b)), F.col("stat_date")) for name, (a, b) in horizons.items()}
    return final.groupBy("metric").agg(*[F.max(day).alias(name) for name, day in within.items()])


def month_start(day: Column) -> Column:
    return F.trunc(day, "month")


def weekly_rows(daily: DataFrame, finality: Mapping[str, date], unfinished: DataFrame | None = None) -> DataFrame:
    """ISO-week rows (`week_start`): see `period_rows`."""
    return period_rows(daily, finality, "week_start", week_start, lambda start: F.date_add(start, 6), unfinished)


def monthly_rows(daily: DataFrame, finality: Mapping[str, date], unfinished: DataFrame | None = None) -> DataFrame:
    """Calendar-month rows (`month_start`, the 1st): see `period_rows`."""
    return period_rows(daily, finality, "month_start", month_start, F.last_day, unfinished)


def period_rows(
    daily: DataFrame,
    finality: Mapping[str, date],
    key: str,
    start: Callable[[Column], Column],
    last_day: Callable[[Column], Column],
    unfinished: DataFrame | None = None,
) -> DataFrame:
    """Sum numerators and denominators over the period's days, then divide: the period's rate
    weighs each day by its volume (it is not the mean of daily rates).

    A period is final for a shop once all of its days are final for the metric
    (`finality`: {metric: its latest final day}, `latest_final_days`) and for that shop: none of its rows of the period is
    provisional and none of its days is held back from becoming final (`unfinished`:
    stat_date, shop_id, metric of held-back slices, csmetrics.finality)."""
    has_denominator = _by_metric(lambda m: m.has_denominator)[F.col("metric")]
    summed = daily.withColumn(key, start(F.col("stat_date"))).groupBy(
        key, "shop_id", "metric", "segment"
    ).agg(
        F.sum("numerator").alias("numerator"),
        F.sum("denominator").alias("denominator"),
        F.count("*").cast("int").alias("days_with_data"),
        F.max("maturity").alias("_days_maturity"),  # "provisional" sorts after "final"
    )
    if unfinished is not None:
        waiting = unfinished.select(start(F.col("stat_date")).alias(key), "shop_id", "metric").distinct().withColumn("_unfinished", F.lit(True))
        summed = summed.join(F.broadcast(waiting), [key, "shop_id", "metric"], "left")
    else:
        summed = summed.withColumn("_unfinished", F.lit(None).cast("boolean"))
    final_through = (
        F.create_map(*[x for metric, day in finality.items() for x in (F.lit(metric), F.lit(day))])[F.col("metric")]
        if finality else F.lit(None).cast("date")
    )
    all_days_final = (last_day(F.col(key)) <= final_through) & (F.col("_days_maturity") == "final") & F.col("_unfinished").isNull()
    return summed.select(
        key,
        "shop_id",
        "metric",
        "segment",
        "numerator",
        F.when(has_denominator, F.col("denominator")).alias("denominator"),
        F.when(has_denominator, F.col("numerator") / F.col("denominator")).otherwise(F.col("numerator")).alias("value"),
        "days_with_data",
        F.when(all_days_final, "final").otherwise("provisional").alias("maturity"),
    )


@dataclass(frozen=True)
class Threshold:
    metric: str
    comparison: str  # ">=", "<=", "<" or ">"
    value: float

    def passes(self, column: Column) -> Column:
        ops = {">=": column >= self.value, "<=": column <= self.value, "<": column < self.value, ">": column > self.value}
        return ops[self.comparison]


# SPEC §5; override with CSMETRICS_GOVERNANCE_THRESHOLDS="reply_3min_rate>=0.9;...".
DEFAULT_THRESHOLDS = (
    Threshold("reply_3min_rate", ">=", 0.90),
    Threshold("avg_response_seconds", "<=", 120.0),
    Threshold("pickup_rate", ">=", 0.80),
    Threshold("avg_wait_seconds", "<", 600.0),
    Threshold("satisfaction_rate", ">=", 0.80),
)


def parse_thresholds(text: str) -> tuple[Threshold, ...]:
    """`metric>=0.9;metric<600` -> thresholds (every metric must be in the registry, once:
    governance rows are keyed by week, shop and metric)."""
    found = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        for comparison in (">=", "<=", "<", ">"):
            metric, sep, value = item.partition(comparison)
            metric = metric.strip()
            if sep:
                if metric not in registry.BY_ID:
                    raise ValueError(f"unknown metric {metric!r} in governance threshold {item!r}")
                if any(t.metric == metric for t in found):
                    raise ValueError(f"{metric!r} is named twice in the governance thresholds: keep one threshold per metric")
                found.append(Threshold(metric, comparison, float(value)))
                break
        else:
            raise ValueError(f"governance threshold {item!r} is not of the form metric>=value")
    return tuple(found)


def governance_rows(weekly: DataFrame, thresholds: tuple[Threshold, ...]) -> DataFrame:
    """One row per (week, shop, threshold): value, pass / fail / no_data, and the shop-week's
    overall status. A shop with sessions that week but no value for a metric (e.g. nobody
    rated it) is `no_data` for that threshold, never `fail`."""
    rules = weekly.sparkSession.createDataFrame(
        [(t.metric, t.comparison, t.value) for t in thresholds], "metric string, comparison string, threshold double"
    )
    shop_weeks = weekly.select("week_start", "shop_id").distinct()
    values = weekly.where(F.col("segment") == "all").select("week_start", "shop_id", "metric", "value", "maturity")
    grid = shop_weeks.crossJoin(F.broadcast(rules)).join(values, ["week_start", "shop_id", "metric"], "left")
    passed = F.lit(None).cast("boolean")
    for t in thresholds:
        passed = F.when(F.col("metric") == t.metric, t.passes(F.col("value"))).otherwise(passed)
    status = F.when(F.col("value").isNull(), "no_data").when(passed, "pass").otherwise("fail")
    shop_week = Window.partitionBy("week_start", "shop_id")
    statuses = F.collect_set("status").over(shop_week)
    overall = (
        F.when(F.array_contains(statuses, "fail"), "fail").when(F.array_contains(statuses, "no_data"), "no_data").otherwise("pass")
    )
    # Final only when every value it was judged on is final ("provisional" sorts after "final").
    all_final = F.coalesce(F.max("maturity").over(shop_week), F.lit("provisional"))
    return (
        grid.withColumn("status", status)
        .withColumn("overall_status", overall)
        .withColumn("maturity", all_final)
        .select("week_start", "shop_id", "metric", "comparison", "threshold", "value", "status", "overall_status", "maturity")
    )
