"""The one Spark session factory: every Spark and Delta setting lives here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from delta import configure_spark_with_delta_pip
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from csmetrics import local_fs
from csmetrics.config import Settings
from csmetrics.logs import driver_java_options, route_library_logs


def spark_settings(settings: Settings) -> dict[str, str]:
    """Spark configuration shared by local runs, tests and spark-submit on a cluster."""
    conf = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # Raw timestamps are UTC; local dates are derived explicitly per shop timezone.
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        # Adaptive execution splits skewed join partitions (a few giant shops).
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.skewJoin.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.driver.memory": settings.driver_memory,
        "spark.ui.showConsoleProgress": "false",
        "spark.databricks.delta.snapshotPartitions": "4",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # PySpark records the Python call site of every Column method and F.col in the JVM,
        # for error messages: about ten round trips and a stack walk a call, half of a small
        # run's round trips (docs/scaling.md). Errors keep their class, values and stack;
        # CSMETRICS_SPARK_CONF can set it back to true to find the Python line.
        "spark.python.sql.dataFrameDebugging.enabled": "false",
        # A warehouse on a local disk: no checksum file beside each file (csmetrics.local_fs).
        **local_fs.RAW,
    }
    conf.update(settings.spark_conf)
    # The project's log4j2 configuration first: options given in CSMETRICS_SPARK_CONF follow
    # it, and the JVM lets the last -D of a name win.
    conf["spark.driver.extraJavaOptions"] = f"{driver_java_options(settings)} {settings.spark_conf.get('spark.driver.extraJavaOptions', '')}".strip()
    return conf


@contextmanager
def session_setting(spark: SparkSession, key: str, value: str) -> Iterator[None]:
    """`key` set to `value` in the session inside the block; as it was (or unset) after it."""
    previous = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, previous)


@contextmanager
def without_adaptive_execution(spark: SparkSession, shuffle_partitions: int | None = None) -> Iterator[None]:
    """Queries planned inside the block (an action's, or a cache's at `persist`) run without
    adaptive execution, their shuffles in `shuffle_partitions` (None: the session's): one Spark
    job an action, where adaptive execution makes a job of each shuffle. For queries with no
    skew for it to split (keyed by record ids, or at shop-day grain); the caller's
    `shuffle_partitions` take the place of its coalescing."""
    with session_setting(spark, "spark.sql.adaptive.enabled", "false"):
        if shuffle_partitions is None:
            yield
            return
        with session_setting(spark, "spark.sql.shuffle.partitions", str(shuffle_partitions)):
            yield


def materialized(frame: DataFrame) -> DataFrame:
    """`frame` computed now and held (memory, then local disk) under a plan of its own: an
    RDD of its rows, which later queries read without planning `frame` again. Release it
    with `release_materialized`."""
    return frame.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)


def release_materialized(frame: DataFrame) -> None:
    """Free the rows of a `materialized` frame: they are the RDD at the root of its plan,
    which `unpersist` does not reach."""
    root = frame._jdf.queryExecution().analyzed()
    if root.nodeName() == "LogicalRDD":
        root.rdd().unpersist(False)


def under_spark_submit() -> bool:
    """True in a driver started by spark-submit (its JVM is up before Python starts)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _jar_manifest() -> Path:
    """Where the resolved Delta jars of this environment are listed (one path a line)."""
    from importlib.metadata import version

    import pyspark

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "csmetrics"
    return cache / f"delta-{version('delta-spark')}-spark-{pyspark.__version__}.jars"


def cached_delta_jars() -> list[str] | None:
    """The Delta jars (and their dependencies) resolved by an earlier start, if all still exist."""
    manifest = _jar_manifest()
    if not manifest.exists():
        return None
    jars = manifest.read_text().split()
    return jars if jars and all(Path(jar.removeprefix("file://")).exists() for jar in jars) else None


def _remember_delta_jars(spark: SparkSession) -> None:
    jars = [jar for jar in spark.sparkContext.getConf().get("spark.jars", "").split(",") if jar]
    if jars:
        manifest = _jar_manifest()
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text("\n".join(jars) + "\n")


def _with_local_file_system(conf: dict[str, str], settings: Settings) -> dict[str, str]:
    """The process-free local file system (csmetrics.local_fs) for a local application whose
    JVM starts now: its driver class path can still hold the class. (A running application
    keeps its file system: getOrCreate applies only SQL settings to it.)"""
    from pyspark import SparkContext

    if SparkContext._gateway is None and not under_spark_submit() and local_fs.in_one_jvm(settings.spark_master):
        return conf | local_fs.local_settings(settings.spark_conf)
    return conf


def get_spark(settings: Settings | None = None, app_name: str = "csmetrics") -> SparkSession:
    """Return the process's SparkSession, creating it with the project's settings.

    The Delta jars are resolved from Maven once (Ivy prints its report then) and listed in a
    manifest; later starts load the same jars directly: no resolution, no report, no network."""
    settings = settings or Settings.from_env()
    route_library_logs(settings)
    builder = SparkSession.builder
    for key, value in _with_local_file_system(spark_settings(settings), settings).items():
        builder = builder.config(key, value)
    if under_spark_submit():
        # spark-submit already chose the master, the application's name and shipped the
        # Delta jars (--packages).
        spark = builder.getOrCreate()
    else:
        builder = builder.appName(app_name).master(settings.spark_master)
        jars = cached_delta_jars()
        if jars:
            spark = builder.config("spark.jars", ",".join(jars)).getOrCreate()
        else:
            spark = configure_spark_with_delta_pip(builder).getOrCreate()
            _remember_delta_jars(spark)
    if under_spark_submit():
        # The driver JVM started with the cluster's log4j2 configuration (SPARK_CONF_DIR).
        spark.sparkContext.setLogLevel("ERROR")
    return spark
