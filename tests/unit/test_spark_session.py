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
