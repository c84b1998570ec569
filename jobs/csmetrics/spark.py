"""The one Spark session factory: every Spark and Delta setting lives here."""

from __future__ import annotations

import os

from delta import configure_spark_with_delta_pip
from pyspark.sql import SparkSession

from csmetrics.config import Settings


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
    }
    conf.update(settings.spark_conf)
    return conf


def under_spark_submit() -> bool:
    """True in a driver started by spark-submit (its JVM is up before Python starts)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_spark(settings: Settings | None = None, app_name: str = "csmetrics") -> SparkSession:
    """Return the process's SparkSession, creating it with the project's settings."""
    settings = settings or Settings.from_env()
    builder = SparkSession.builder
    for key, value in spark_settings(settings).items():
        builder = builder.config(key, value)
    if under_spark_submit():
        # spark-submit already chose the master, the application's name and shipped the
        # Delta jars (--packages).
        spark = builder.getOrCreate()
    else:
        spark = configure_spark_with_delta_pip(builder.appName(app_name).master(settings.spark_master)).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
