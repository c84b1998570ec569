"""The project's Spark session: what a small run's fixed cost depends on."""

from __future__ import annotations

from py4j.clientserver import ClientServerConnection
from pyspark.sql import functions as F


def test_building_a_query_sends_the_jvm_no_python_call_site(spark, monkeypatch):
    """PySpark can record the Python call site of each DataFrame and function call in the JVM
    (four round trips and a stack walk a call). The session is built without it (spark.py)."""
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
