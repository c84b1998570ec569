"""One session-scoped local SparkSession with Delta for every test tier."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from csmetrics.config import Settings
from csmetrics.spark import get_spark

UTC = ZoneInfo("UTC")


@pytest.fixture(scope="session")
def spark():
    settings = Settings(shuffle_partitions=2, driver_memory="3g", log_file=os.environ["CSMETRICS_LOG_FILE"], spark_conf=Settings.from_env().spark_conf)
    session = get_spark(settings, app_name="csmetrics-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module", autouse=True)
def release_spark_memory_after_each_module():
    """Drop what a module left in the session JVM's heap: cached frames and Delta's cache of
    every table log it opened (each module makes warehouses of its own). Without it, the
    215-test suite in one 2 GB driver ran out of heap building a broadcast in its last
    modules. Starts no Spark."""
    yield
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.catalog.clearCache()
        session._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()
        if os.environ.get("CSMETRICS_TEST_HEAP"):
            runtime = session._jvm.java.lang.Runtime.getRuntime()
            session._jvm.java.lang.System.gc()
            print(f"\n[heap after module: {(runtime.totalMemory() - runtime.freeMemory()) / 2**20:.0f} MiB]")


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    """A private warehouse and landing zone; jobs reading the environment see them too."""
    monkeypatch.setenv("CSMETRICS_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("CSMETRICS_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("CSMETRICS_SHUFFLE_PARTITIONS", "2")
    monkeypatch.setenv("CSMETRICS_EXPORT_DIR", str(tmp_path / "exports"))
    return Settings.from_env()


def local(text: str, zone: str = "Asia/Shanghai") -> datetime:
    """A local wall-clock time in `zone`, as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


# One embedded Airflow for the whole session, set before anything imports airflow (which
# reads its configuration once): the DAG tests migrate it, the cluster test uses its hooks.
if "AIRFLOW_HOME" not in os.environ:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="csmetrics-airflow-")
    atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], True)
# Spark's, GX's and py4j's own warnings of every run in the session: one file outside the tree.
os.environ.setdefault("CSMETRICS_LOG_FILE", os.path.join(os.environ["AIRFLOW_HOME"], "csmetrics.log"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(Path(__file__).resolve().parents[1] / "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
# Test days are a few hundred rows: compiling Java for every query costs more than it saves.
# Interpreted expressions give the same results (Spark tests both paths) and cut a warm run of
# 3 shops from 67 s to 46 s (bench/RESULTS.md). Adaptive execution re-plans every shuffle
# as its own Spark job, which on tiny days is pure overhead: without it a warm 3-shop run
# takes 327 jobs instead of 597 and 66 s instead of 81 s (bench/profile_run.py, 2 cores).
# Every Spark of the session reads it from the environment: in-process runs, Airflow task
# processes, the crash harness, the cluster test's submit. The production path (generated
# code, adaptive execution) is what bin/bench runs, against the DuckDB reference.
# The driver collects garbage with the throughput collector: G1's threads took an eighth of
# a warm 3-shop run's CPU on 2 cores, and the run takes 6-12 % less time without them
# (bench/RESULTS.md, "The driver JVM of a small run").
TEST_SPARK_CONF = (
    "spark.sql.codegen.wholeStage=false;spark.sql.codegen.factoryMode=NO_CODEGEN;spark.databricks.delta.snapshotPartitions=1;"
    "spark.sql.adaptive.enabled=false;spark.driver.extraJavaOptions=-XX:+UseParallelGC"
)
os.environ.setdefault("CSMETRICS_SPARK_CONF", TEST_SPARK_CONF)


@pytest.fixture(scope="session")
def one_day(spark, tmp_path_factory):
    """A small generated day (3 shops, a few invalid records, and a shop with hostile ids)
    and its uninterrupted local run:
    the reference of the cluster test and the crash test. Returns (root, landing, warehouse
    settings); nothing may write to that warehouse."""
    from datetime import date

    from csmetrics.pipeline import run_daily
    from csmetrics_generate import GenerateOptions, generate
    from tests.integration.hostile_ids import land_hostile_shop
    from tests.integration.warehouses import Warehouse

    day = date(2026, 3, 2)
    root = tmp_path_factory.mktemp("one_day")
    generate(GenerateOptions(str(root / "landing"), shops=3, days=1, start=day, seed=21, invalid_share=0.005), lambda message: None)
    land_hostile_shop(root / "landing", day)
    with Warehouse(root / "uninterrupted", root / "landing") as settings:
        run_daily(day, f"scheduled__{day}", progress=lambda message: None)
    return root, root / "landing", settings
