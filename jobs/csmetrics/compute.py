"""The compute job: bronze as of the run's cutoff -> metric rows in a staging table."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pyspark.sql import DataFrame, SparkSession

from csmetrics.bronze import read_bronze
from csmetrics.config import Settings
from csmetrics.metrics.conversation import conversation_metrics
from csmetrics.metrics.long_format import agent_rows, finish, shop_rows
from csmetrics.plan import RunPlan
from csmetrics.schemas.gold import GOLD_TABLES

# Local dates reach one day either side of UTC dates (offsets -12 h .. +14 h); a session's
# messages may continue past the next midnight.
SESSION_MARGIN_DAYS = 1
MESSAGE_MARGIN_DAYS = 2


def staging_path(settings: Settings, table: str, run_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in run_id)
    return settings.table_path("staging", f"{table}/{safe}")


def compute_metrics(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str) -> dict[str, DataFrame]:
    """Metric rows of every gold table the plan covers (lazy DataFrames)."""
    first, last = plan.dates[0], plan.dates[-1]
    cutoff = plan.arrival_cutoff
    shops = read_bronze(spark, settings, "shops")
    sessions = read_bronze(
        spark, settings, "sessions", (first - timedelta(SESSION_MARGIN_DAYS), last + timedelta(SESSION_MARGIN_DAYS)), cutoff
    )
    messages = read_bronze(
        spark, settings, "messages", (first - timedelta(SESSION_MARGIN_DAYS), last + timedelta(MESSAGE_MARGIN_DAYS)), cutoff
    )
    long = conversation_metrics(sessions, messages, shops, plan.dates, settings.business_start, settings.business_end)
    finished = finish(long, shops, plan.run_date, run_id, datetime.now(timezone.utc))
    return {
        "shop_metrics_daily": shop_rows(finished, GOLD_TABLES["shop_metrics_daily"][0]),
        "agent_metrics_daily": agent_rows(finished, GOLD_TABLES["agent_metrics_daily"][0]),
    }


def stage(spark: SparkSession, settings: Settings, plan: RunPlan, run_id: str) -> dict[str, str]:
    """Compute and write each table's rows to its staging location; return the paths."""
    paths = {}
    for table, rows in compute_metrics(spark, settings, plan, run_id).items():
        path = staging_path(settings, table, run_id)
        rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
        paths[table] = path
    return paths
