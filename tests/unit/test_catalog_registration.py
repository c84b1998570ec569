"""Registering a gold table in the Spark catalog: the SQL it sends, checked without Spark.
Warehouse paths and schema names come from the environment; a quote, a backslash or a
backtick in them must not end the literal or the identifier early."""

from __future__ import annotations

from csmetrics.config import Settings
from csmetrics.tables import BY_NAME, register


class RecordedSession:
    """Stands in for a SparkSession: keeps the SQL it is given."""

    def __init__(self):
        self.statements: list[str] = []

    def sql(self, statement: str) -> None:
        self.statements.append(statement)


def registered(warehouse: str, schema: str) -> list[str]:
    session = RecordedSession()
    register(session, Settings(warehouse=warehouse, catalog_schema=schema), BY_NAME["leaderboard_daily"])
    return session.statements


def test_a_plain_warehouse_and_schema():
    assert registered("/data/warehouse", "csmetrics") == [
        "CREATE SCHEMA IF NOT EXISTS `csmetrics`",
        "CREATE TABLE IF NOT EXISTS `csmetrics`.`leaderboard_daily` USING DELTA LOCATION '/data/warehouse/gold/leaderboard_daily'",
    ]


def test_quotes_and_backslashes_in_the_warehouse_path_stay_inside_the_location_literal():
    assert registered("/data/o'brien\\wh", "csmetrics")[1] == (
        "CREATE TABLE IF NOT EXISTS `csmetrics`.`leaderboard_daily` USING DELTA LOCATION '/data/o\\'brien\\\\wh/gold/leaderboard_daily'"
    )


def test_a_backtick_in_the_schema_name_is_doubled():
    assert registered("/data/warehouse", "cs`metrics; DROP") == [
        "CREATE SCHEMA IF NOT EXISTS `cs``metrics; DROP`",
        "CREATE TABLE IF NOT EXISTS `cs``metrics; DROP`.`leaderboard_daily` USING DELTA LOCATION '/data/warehouse/gold/leaderboard_daily'",
    ]
