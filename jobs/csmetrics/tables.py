"""The table catalog: every Delta table the pipeline writes, declared once.

A `Table` knows its layer, schema, partitioning, keys and properties; its path, its creation
and its registration in the Spark catalog (SPEC §5, when CSMETRICS_CATALOG_SCHEMA names one)
go through it. Staging tables, one per run and gold table, are written, read and cleaned up
here too (CSMETRICS_STAGING_KEEP_DAYS).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from itertools import takewhile

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from csmetrics.config import Settings
from csmetrics.delta_io import sql_literal
from csmetrics.schemas import gold as schemas
from csmetrics.schemas.bronze import EVENT_DATE, bronze_schema
from csmetrics.schemas.raw import RAW_TABLES

CHANGE_DATA_FEED = {"delta.enableChangeDataFeed": "true"}


@dataclass(frozen=True)
class Table:
    name: str
    layer: str
    schema: T.StructType
    partition_by: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)

    def path(self, settings: Settings) -> str:
        return settings.table_path(self.layer, self.name)

    def exists(self, spark: SparkSession, settings: Settings) -> bool:
        return DeltaTable.isDeltaTable(spark, self.path(settings))

    def read(self, spark: SparkSession, settings: Settings, **options: str) -> DataFrame:
        """The table's rows, lazily: its latest version, or what Delta's read `options` ask
        (`versionAsOf`, `readChangeFeed`, ...)."""
        return spark.read.format("delta").options(**options).load(self.path(settings))

    def read_or_empty(self, spark: SparkSession, settings: Settings) -> DataFrame:
        """The table's rows, or none (of its schema) where nothing has written it yet."""
        if not self.exists(spark, settings):
            return spark.createDataFrame([], self.schema)
        return self.read(spark, settings)

    def ensure(self, spark: SparkSession, settings: Settings, relayout: bool = False) -> DeltaTable:
        """The table, created with its schema, partitioning and properties if it does not
        exist yet, and registered in the configured catalog schema. Once per application and
        table (but for `relayout`): later calls only check that the table is still there. A
        gold table laid out otherwise than declared raises LayoutError, or is rewritten when
        `relayout` (what `csmetrics maintain` asks)."""
        path = self.path(settings)
        ensured = (spark.sparkContext.applicationId, path)
        if ensured in _ENSURED and not relayout and _log_exists(spark, path):
            return DeltaTable.forPath(spark, path)
        table = self._create_or_complete(spark, settings, relayout)
        _ENSURED.add(ensured)
        return table

    def _create_or_complete(self, spark: SparkSession, settings: Settings, relayout: bool) -> DeltaTable:
        # A table this call creates has its declaration already: only one that was there may
        # lack what the declaration has gained since (its inspection is a query per table).
        existed = _log_exists(spark, self.path(settings))
        builder = DeltaTable.createIfNotExists(spark).location(self.path(settings)).addColumns(self.schema)
        if self.partition_by:
            builder = builder.partitionedBy(*self.partition_by)
        for key, value in self.properties.items():
            builder = builder.property(key, value)
        table = builder.execute()
        if existed and self._complete(spark, settings, relayout):
            # A DeltaTable keeps the plan it was opened with: the rewritten table needs a new one.
            table = DeltaTable.forPath(spark, self.path(settings))
        if settings.catalog_schema and self.layer == "gold":
            register(spark, settings, self)
        return table

    def _complete(self, spark: SparkSession, settings: Settings, relayout: bool) -> bool:
        """A table created by an older csmetrics gets what its declaration has gained since:
        its properties (one metadata commit) and, for a gold table when `relayout`, its layout
        (the table rewritten once, `_relayout`). A gold table is completed by the first step
        that opens it; the other layers (whose layouts have not changed) only by `csmetrics
        maintain` (`relayout`), so that a daily run pays no query per bronze table for it.
        True when the table was rewritten."""
        if self.layer != "gold":
            if relayout and self.properties:
                self._set_missing_properties(spark, settings, _properties(spark, self.path(settings)))
            return False
        was, properties = _layout(spark, self.path(settings))
        relaid = was != list(self.partition_by)
        if relaid and not relayout:
            raise LayoutError(
                f"{self.layer}/{self.name} is partitioned by {was}; this csmetrics lays it out by {list(self.partition_by)}. "
                "Run `csmetrics maintain` once, away from the daily runs: it rewrites the table in one commit "
                "(docs/scaling.md, \"Gold's layout\", says what feed readers see of it). Then run this date again."
            )
        if relaid:
            _relayout(spark, self.path(settings), self.partition_by, was)
        self._set_missing_properties(spark, settings, properties)
        return relaid

    def _set_missing_properties(self, spark: SparkSession, settings: Settings, properties: dict[str, str]) -> None:
        missing = {k: v for k, v in self.properties.items() if properties.get(k) != v}
        if missing:
            assignments = ", ".join(f"{sql_literal(k)} = {sql_literal(v)}" for k, v in missing.items())
            spark.sql(f"ALTER TABLE delta.{_identifier(self.path(settings))} SET TBLPROPERTIES ({assignments})")


def _layout(spark: SparkSession, path: str) -> tuple[list[str], dict[str, str]]:
    """The table's partition columns and properties, from its metadata. (`DeltaTable.detail()`
    says the same and also counts the table's files: a job over its whole state, about 1.5 s
    a table in a new driver, each daily run paying it for every gold table.)"""
    identifier = f"delta.{_identifier(path)}"
    properties = _properties(spark, path)
    described = [r.col_name for r in spark.sql(f"DESCRIBE TABLE {identifier}").collect()]
    # DESCRIBE lists the columns, then "# Partition Information", a "# col_name" header and
    # the partition columns in order, up to the next section, if any.
    header = "# Partition Information"
    after = described[described.index(header) + 2 :] if header in described else []
    partition_columns = list(takewhile(lambda name: name and not name.startswith("#"), after))
    return partition_columns, properties


def _properties(spark: SparkSession, path: str) -> dict[str, str]:
    return {r.key: r.value for r in spark.sql(f"SHOW TBLPROPERTIES delta.{_identifier(path)}").collect()}


class LayoutError(RuntimeError):
    """A table's partitioning is not the declared one: `csmetrics maintain` rewrites it."""


def _relayout(spark: SparkSession, path: str, partition_by: tuple[str, ...], was: list[str]) -> None:
    """Rewrite the table partitioned by `partition_by`, in one overwrite commit: Delta cannot
    change a table's partitioning in place (and refuses `dataChange=false` for it). Earlier
    versions stay readable (time travel) until VACUUM. What the rewrite costs the Change Data
    Feed and the NOT NULL constraints: docs/scaling.md, "Gold's layout"."""
    logging.getLogger(__name__).warning(
        "Rewriting %s once, partitioned by %s instead of %s (docs/scaling.md, \"Gold's layout\").", path, list(partition_by), was
    )
    rows = spark.read.format("delta").load(path)
    (
        rows.repartition(*partition_by)
        .write.format("delta")
        .mode("overwrite")
        .option("overwriteSchema", "true")
        .option("userMetadata", "csmetrics-relayout")
        .partitionBy(*partition_by)
        .save(path)
    )


# (application id, path) of the tables this process has created or completed already.
_ENSURED: set[tuple[str, str]] = set()


def _log_exists(spark: SparkSession, path: str) -> bool:
    """Whether the table's log is still there (file-system calls, no Spark job): a table
    removed and created again at the same path starts over. Its first commit is the sign;
    once log cleanup has removed that (after `delta.logRetentionDuration`, 30 days by
    default), the pointer to its last checkpoint is: Delta's cleanup deletes no commit
    before `_last_checkpoint` exists, and never deletes that file."""
    jvm = spark.sparkContext._jvm
    log = f"{path}/_delta_log"
    first = jvm.org.apache.hadoop.fs.Path(f"{log}/00000000000000000000.json")
    fs = first.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return fs.exists(first) or fs.exists(jvm.org.apache.hadoop.fs.Path(f"{log}/_last_checkpoint"))


def register(spark: SparkSession, settings: Settings, table: Table) -> None:
    """`<schema>.<table>` in the session's catalog, pointing at the table's path."""
    for statement in registration_sql(settings.catalog_schema, table.name, table.path(settings)):
        spark.sql(statement)


def registration_sql(schema: str, table_name: str, location: str) -> list[str]:
    """The statements that register a table: the names as quoted identifiers and the path as a
    string literal, so that a quote or backtick in CSMETRICS_CATALOG_SCHEMA or the warehouse path stays inside them."""
    name = f"{_identifier(schema)}.{_identifier(table_name)}"
    return [
        f"CREATE SCHEMA IF NOT EXISTS {_identifier(schema)}",
        f"CREATE TABLE IF NOT EXISTS {name} USING DELTA LOCATION {sql_literal(location)}",
    ]


def _identifier(name: str) -> str:
    """A Spark SQL back-quoted identifier (a backtick inside is doubled)."""
    return "`" + name.replace("`", "``") + "`"


def _gold(name: str, schema: T.StructType, partition: str | tuple[str, ...], keys: list[str], properties: dict | None = None) -> Table:
    return Table(name, "gold", schema, (partition,) if isinstance(partition, str) else partition, tuple(keys), properties or {})


# The tables a run replaces by (stat_date, metric) slice are laid out by both: a slice's
# replace then rewrites only its own files, never other metrics' rows of the date.
BY_METRIC = ("stat_date", "metric")


# Every gold table keeps a Change Data Feed: a consumer reads which rows a finalisation or a
# restatement changed (Spark's table_changes, delta-rs's load_cdf).
SHOP_METRICS_DAILY = _gold(
    "shop_metrics_daily", schemas.SHOP_METRICS_DAILY, BY_METRIC, ["stat_date", "shop_id", "metric", "segment"], CHANGE_DATA_FEED
)
AGENT_METRICS_DAILY = _gold(
    "agent_metrics_daily", schemas.AGENT_METRICS_DAILY, BY_METRIC, ["stat_date", "shop_id", "agent_id", "metric", "segment"], CHANGE_DATA_FEED
)
# The tables the daily metric rows are published to (replaceWhere of the run's slice).
METRIC_TABLES = (SHOP_METRICS_DAILY, AGENT_METRICS_DAILY)
# The conversation metrics' drill-down: published beside them, the same dates and maturity.
SESSION_DETAIL_DAILY = _gold(
    "session_detail_daily", schemas.SESSION_DETAIL_DAILY, "stat_date", ["stat_date", "shop_id", "session_id"], CHANGE_DATA_FEED
)
# The metrics per consultation scene: the same (date, metric) slices as the metric tables.
SCENE_METRICS_DAILY = _gold(
    "scene_metrics_daily",
    schemas.SCENE_METRICS_DAILY,
    BY_METRIC,
    ["stat_date", "shop_id", "scene_level", "scene", "metric", "segment"],
    CHANGE_DATA_FEED,
)
# Every table a run stages, gates and publishes.
PUBLISHED_TABLES = (*METRIC_TABLES, SESSION_DETAIL_DAILY, SCENE_METRICS_DAILY)

# Written by MERGE, so a re-run that changes nothing leaves no change rows.
DERIVED_TABLES = (
    _gold("shop_metrics_weekly", schemas.SHOP_METRICS_WEEKLY, "week_start", ["week_start", "shop_id", "metric", "segment"], CHANGE_DATA_FEED),
    _gold("shop_metrics_monthly", schemas.SHOP_METRICS_MONTHLY, "month_start", ["month_start", "shop_id", "metric", "segment"], CHANGE_DATA_FEED),
    # By period as well as grain: a run's MERGE then reads and rewrites the periods it moves
    # (some 25), not every day of history.
    _gold(
        "shop_metric_trends", schemas.SHOP_METRIC_TRENDS, ("grain", "period_start"), ["grain", "period_start", "shop_id", "metric", "segment"],
        CHANGE_DATA_FEED,
    ),
    _gold("governance_weekly", schemas.GOVERNANCE_WEEKLY, "week_start", ["week_start", "shop_id", "metric"], CHANGE_DATA_FEED),
    _gold(
        "peer_benchmarks_daily",
        schemas.PEER_BENCHMARKS_DAILY,
        "stat_date",
        ["platform", "category", "tier", "stat_date", "metric", "segment"],
        CHANGE_DATA_FEED,
    ),
    _gold(
        "scene_benchmarks_daily",
        schemas.SCENE_BENCHMARKS_DAILY,
        "stat_date",
        ["platform", "category", "tier", "stat_date", "scene_level", "scene", "metric", "segment"],
        CHANGE_DATA_FEED,
    ),
    _gold("leaderboard_daily", schemas.LEADERBOARD_DAILY, "stat_date", ["platform", "category", "stat_date", "metric", "shop_id"], CHANGE_DATA_FEED),
    _gold("experience_score_daily", schemas.EXPERIENCE_SCORE_DAILY, "stat_date", ["stat_date", "shop_id", "indicator"], CHANGE_DATA_FEED),
    _gold("metric_alerts_daily", schemas.METRIC_ALERTS_DAILY, "stat_date", ["stat_date", "shop_id", "metric", "segment"], CHANGE_DATA_FEED),
)

INGEST_LOG = Table("_ingest_log", "bronze", schemas.INGEST_LOG)
QUARANTINE = Table("records", "quarantine", schemas.QUARANTINE, ("table", "arrival_dt"))
HELD_BACK = Table("held_back", "quality", schemas.HELD_BACK)
UNFINISHED = Table("unfinished", "quality", schemas.UNFINISHED, keys=("stat_date", "shop_id", "metric"))
VALIDATION_RESULTS = Table("validation_results", "quality", schemas.VALIDATION_RESULTS)
BACKFILL_CHUNKS = Table("backfill_chunks", "quality", schemas.BACKFILL_CHUNKS)
RUN_COMMITS = Table("run_commits", "quality", schemas.RUN_COMMITS)

BY_NAME: dict[str, Table] = {t.name: t for t in (*PUBLISHED_TABLES, *DERIVED_TABLES)}


# Bronze is read by shop, by the time its files landed (as of a run's cutoff) and by the run
# that wrote it (the bronze gate's read-back): Delta's file statistics of those columns only.
# Statistics of every column cost about an eighth of ingest's append (bench/RESULTS.md).
BRONZE_STATS_COLUMNS = ("shop_id", "_landed_at", "_run_id")


def bronze(name: str) -> Table:
    """The bronze table of a raw table of the contract, partitioned by UTC event date (events)."""
    raw = RAW_TABLES[name]
    schema = bronze_schema(raw)
    stats = ",".join(column for column in BRONZE_STATS_COLUMNS if column in schema.fieldNames())
    return Table(
        name, "bronze", schema, (EVENT_DATE,) if raw.event_time else (), (raw.primary_key,),
        {"delta.dataSkippingStatsColumns": stats},
    )


def safe_name(text: str) -> str:
    """`text` as one path segment: letters, digits, - and _ kept, anything else as _."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def staging_path(settings: Settings, table: str, run_id: str) -> str:
    """Where a run stages its rows of the gold table `table` between compute and publish."""
    safe = safe_name(run_id)
    return settings.table_path("staging", f"{table}/{safe}")


def write_staging(settings: Settings, tables: dict[str, DataFrame], run_id: str) -> dict[str, str]:
    """Write each gold table's rows of a run to its staging location; return the paths."""
    paths = {}
    for table, rows in tables.items():
        paths[table] = staging_path(settings, table, run_id)
        rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(paths[table])
    return paths


def read_staging(spark: SparkSession, settings: Settings, run_id: str) -> dict[str, DataFrame]:
    """The rows a run staged, per published table (a compute step in another process)."""
    return {table.name: spark.read.format("delta").load(staging_path(settings, table.name, run_id)) for table in PUBLISHED_TABLES}


def _staging_files(spark: SparkSession, settings: Settings):
    """Hadoop's FileSystem and the staging root: the warehouse may be remote."""
    root = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(settings.table_path("staging", ""))
    return root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), root


def drop_stale_staging(spark: SparkSession, settings: Settings) -> int:
    """Remove staging tables last written more than CSMETRICS_STAGING_KEEP_DAYS ago (runs long
    published or abandoned); return how many. Called when a run stages its own."""
    fs, root = _staging_files(spark, settings)
    if not fs.exists(root):
        return 0
    oldest = (time.time() - settings.staging_keep_days * 86400) * 1000
    dropped = 0
    for table_dir in fs.listStatus(root):
        for run_dir in fs.listStatus(table_dir.getPath()):
            if run_dir.getModificationTime() < oldest:
                fs.delete(run_dir.getPath(), True)
                dropped += 1
    return dropped


def drop_run_staging(spark: SparkSession, settings: Settings, run_id: str) -> None:
    """Remove a run's own staging tables (after its publish, when nothing is to be kept)."""
    fs, _ = _staging_files(spark, settings)
    for table in PUBLISHED_TABLES:
        fs.delete(spark.sparkContext._jvm.org.apache.hadoop.fs.Path(staging_path(settings, table.name, run_id)), True)
