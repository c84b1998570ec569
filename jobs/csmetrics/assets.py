"""The Airflow Assets of the gold tables: what downstream DAGs schedule on.

A task that writes a gold table declares its Asset as an outlet; Airflow records an asset
event when the task succeeds, and every DAG scheduled on that Asset runs. Imported at DAG
parse time: nothing here starts Spark.
"""

from __future__ import annotations

from airflow.sdk import Asset

from csmetrics.config import Settings
from csmetrics.tables import DERIVED_TABLES, PUBLISHED_TABLES


def gold_asset(table: str) -> Asset:
    """Named for the table (`csmetrics.gold.<table>`), located at its path in the warehouse."""
    warehouse = Settings.from_env().warehouse
    location = warehouse if "://" in warehouse else f"file://{warehouse}"
    return Asset(name=f"csmetrics.gold.{table}", uri=f"{location}/gold/{table}", group="csmetrics")


PUBLISHED = [gold_asset(t.name) for t in PUBLISHED_TABLES]
DERIVED = [gold_asset(t.name) for t in DERIVED_TABLES]
LEADERBOARD_DAILY = gold_asset("leaderboard_daily")
