"""Trend series: per shop, metric and segment, the last 30 days, 12 ISO weeks and 12 months
up to a date, each period with its change over the period before it (环比).

A pure transform of the daily, weekly and monthly gold rows. `derive` keeps every period's
row with its change in gold/shop_metric_trends; the shop report reads the series. The
change is relative, (value - previous) / previous, against the period just before (the day,
week or month before, not the previous row: a period without data has no change); null
when the previous period has no row or a value of 0.
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

DAYS, WEEKS, MONTHS = 30, 12, 12
SERIES_COLUMNS = ["shop_id", "metric", "segment", "grain", "period_start", "value", "maturity", "previous_value", "change"]


def _grain(rows: DataFrame, grain: str, start_column: str, previous: Column, first: date, last: date) -> DataFrame:
    periods = rows.select(
        "shop_id", "metric", "segment", F.lit(grain).alias("grain"), F.col(start_column).alias("period_start"), "value", "maturity"
    )
    before = periods.select(
        "shop_id", "metric", "segment", "grain", F.col("period_start").alias("previous_start"), F.col("value").alias("previous_value")
    )
    keys = ["shop_id", "metric", "segment", "grain", "previous_start"]
    return (
        periods.where(F.col("period_start").between(F.lit(first), F.lit(last)))
        .withColumn("previous_start", previous)
        .join(before, keys, "left")
        .withColumn(
            "change",
            F.when(F.col("previous_value") != 0, (F.col("value") - F.col("previous_value")) / F.col("previous_value")),
        )
        .select(*SERIES_COLUMNS)
    )


Span = tuple[date, date]


def periods_with_change(daily: DataFrame, weekly: DataFrame, monthly: DataFrame, days: Span, weeks: Span, months: Span) -> DataFrame:
    """The day, week and month rows starting within each (first, last) span, each with its
    change; the inputs hold the period before each span too."""
    period = F.col("period_start")
    return (
        _grain(daily, "day", "stat_date", F.date_sub(period, 1), *days)
        .unionByName(_grain(weekly, "week", "week_start", F.date_sub(period, 7), *weeks))
        .unionByName(_grain(monthly, "month", "month_start", F.add_months(period, -1), *months))
    )


def trend_series(daily: DataFrame, weekly: DataFrame, monthly: DataFrame, as_of: date) -> DataFrame:
    """The three series up to `as_of` (its day, the week and the month it falls in). Inputs
    are the gold tables' rows (`stat_date` / `week_start` / `month_start`, value, maturity);
    read them from one period before the series start for the first change."""
    monday = as_of - timedelta(days=as_of.weekday())
    month = as_of.replace(day=1)
    first_month = date(month.year - (1 if month.month <= MONTHS - 1 else 0), (month.month - MONTHS) % 12 + 1, 1)
    return periods_with_change(
        daily, weekly, monthly, (as_of - timedelta(days=DAYS - 1), as_of), (monday - timedelta(weeks=WEEKS - 1), monday), (first_month, month)
    )
