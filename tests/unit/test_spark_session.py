"""The project's Spark session: what a small run's fixed cost depends on."""

from __future__ import annotations

from py4j.clientserver import ClientServerConnection
from pyspark.sql import functions as F

from csmetrics.config import Settings
from csmetrics.spark import spark_settings

DEBUGGING = "spark.python.sql.dataFrameDebugging.enabled"


def test_building_a_query_sends_the_jvm_no_python_call_site(spark, monkeypatch):
    """PySpark can record the Python call site of each Column method and F.col in the JVM
    (about ten round trips and a stack walk a call). The session is built without it (spark.py)."""
    assert spark.conf.get(DEBUGGING) == "false"
    # pyspark decides once per process, at its first wrapped call: decide again, from this session.
    monkeypatch.setattr("pyspark.errors.utils._enable_debugging_cache", None)
    sent: list[str] = []
    send = ClientServerConnection.send_command

    def recording(self, command, *args, **kwargs):
        sent.append(command)
        return send(self, command, *args, **kwargs)

    monkeypatch.setattr(ClientServerConnection, "send_command", recording)
    frame = spark.range(3).withColumn("doubled", F.col("id") * F.lit(2)).where(F.col("doubled") > 0)
    monkeypatch.undo()
    assert sent and not [command for command in sent if "PySparkCurrentOrigin" in command]
    assert [r.doubled for r in frame.collect()] == [2, 4]


def test_the_python_call_site_can_be_turned_back_on_to_debug():
    assert spark_settings(Settings())[DEBUGGING] == "false"
    assert spark_settings(Settings(spark_conf={DEBUGGING: "true"}))[DEBUGGING] == "true"


def test_a_local_warehouse_gets_no_hadoop_checksum_files(spark, tmp_path):
    """On a local disk the session writes through Hadoop's raw local file system: no
    `.<name>.crc` beside each data and log file, and no `chmod` process for each (spark.py).
    Delta's own checksum of each version (`_delta_log/<version>.crc`) is still written."""
    path = str(tmp_path / "table")
    spark.range(4).selectExpr("id", "id % 2 AS part").write.format("delta").partitionBy("part").save(path)
    spark.range(4, 6).selectExpr("id", "id % 2 AS part").write.format("delta").mode("append").partitionBy("part").save(path)
    files = [p.relative_to(tmp_path / "table") for p in (tmp_path / "table").rglob("*") if p.is_file()]
    assert [f for f in files if f.name.startswith(".") and f.name.endswith(".crc")] == []
    assert {f.name for f in files if f.parent.name == "_delta_log"} >= {"00000000000000000001.json", "00000000000000000001.crc"}
    assert sorted(r.id for r in spark.read.format("delta").load(path).collect()) == list(range(6))
