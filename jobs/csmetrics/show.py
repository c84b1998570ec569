"""A short text view of gold tables, for people at a terminal."""

from __future__ import annotations

from datetime import date

from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.config import Settings
from csmetrics.publish import gold_path
from csmetrics.spark import get_spark


def show_gold(stat_date: date | None = None, shop_id: str | None = None, limit: int = 40) -> str:
    settings = Settings.from_env()
    rows = get_spark(settings).read.format("delta").load(gold_path(settings, "shop_metrics_daily"))
    if stat_date:
        rows = rows.where(F.col("stat_date") == F.lit(stat_date))
    if shop_id:
        rows = rows.where(F.col("shop_id") == shop_id)
    picked = (
        rows.orderBy("stat_date", "shop_id", "metric", "segment")
        .select("stat_date", "shop_id", "metric", "segment", "numerator", "denominator", "value", "maturity")
        .limit(limit)
        .collect()
    )
    header = f"{'stat_date':10s}  {'shop_id':8s}  {'metric':28s} {'segment':8s} {'numerator':>12s} {'denominator':>12s} {'value':>10s}  maturity"
    lines = [header]
    for r in picked:
        den = "" if r.denominator is None else f"{r.denominator:12.0f}"
        lines.append(
            f"{r.stat_date!s:10s}  {r.shop_id:8s}  {r.metric:28s} {r.segment:8s} {r.numerator:12.2f} {den:>12s} {r.value:10.3f}  {r.maturity}"
        )
    lines.append(f"gold tables: {settings.warehouse}/gold")
    return "\n".join(lines)


def show_shop_matrix(shop_id: str) -> str:
    """One shop's metrics (rows) over its stat_dates (columns): value, F final / p provisional."""
    settings = Settings.from_env()
    rows = (
        get_spark(settings).read.format("delta").load(gold_path(settings, "shop_metrics_daily"))
        .where(F.col("shop_id") == shop_id)
        .select("stat_date", "metric", "segment", "value", "maturity")
        .collect()
    )
    dates = sorted({r.stat_date for r in rows})[-6:]
    cells = {(r.metric, r.segment, r.stat_date): f"{r.value:10.3f} {'F' if r.maturity == 'final' else 'p'}" for r in rows}
    order = {m.id: i for i, m in enumerate(registry.METRICS)}
    keys = sorted({(r.metric, r.segment) for r in rows}, key=lambda k: (order.get(k[0], 99), k[1]))
    lines = [f"{shop_id}: value per stat_date (F final, p provisional)", f"{'metric':28s} {'segment':9s} " + " ".join(f"{d!s:>12s}" for d in dates)]
    for metric, segment in keys:
        lines.append(f"{metric:28s} {segment:9s} " + " ".join(f"{cells.get((metric, segment, d), ''):>12s}" for d in dates))
    return "\n".join(lines)
