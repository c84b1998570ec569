"""The project's Spark session: what a small run's fixed cost depends on."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from py4j.clientserver import ClientServerConnection
from pyspark.sql import functions as F

from csmetrics import local_fs
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


def write_two_versions(spark, path: str) -> None:
    """A Delta table of two partitions, created and appended to: two log versions."""
    spark.range(4).selectExpr("id", "id % 2 AS part").write.format("delta").partitionBy("part").save(path)
    spark.range(4, 6).selectExpr("id", "id % 2 AS part").write.format("delta").mode("append").partitionBy("part").save(path)


def test_a_local_warehouse_gets_no_hadoop_checksum_files(spark, tmp_path):
    """On a local disk the session writes no `.<name>.crc` beside each data and log file
    (csmetrics.local_fs). Delta's own checksum of each version is still written."""
    path = str(tmp_path / "table")
    write_two_versions(spark, path)
    files = [p.relative_to(tmp_path / "table") for p in (tmp_path / "table").rglob("*") if p.is_file()]
    assert [f for f in files if f.name.startswith(".") and f.name.endswith(".crc")] == []
    assert {f.name for f in files if f.parent.name == "_delta_log"} >= {"00000000000000000001.json", "00000000000000000001.crc"}
    assert sorted(r.id for r in spark.read.format("delta").load(path).collect()) == list(range(6))
    # Hadoop's default permissions (umask 022), set without a chmod process.
    data = next(p for p in (tmp_path / "table" / "part=0").iterdir() if p.suffix == ".parquet")
    assert (stat.S_IMODE(data.stat().st_mode), stat.S_IMODE(data.parent.stat().st_mode)) == (0o644, 0o755)


def hadoop_file_system(spark, path):
    jvm = spark._jvm
    return jvm.org.apache.hadoop.fs.Path(str(path)).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def processes_started(spark, tmp_path, action) -> list[str]:
    """The commands of the processes the driver JVM started while `action` ran, from a Java
    Flight Recording of jdk.ProcessStart."""
    jfr = spark._jvm.jdk.jfr
    recording = jfr.Recording()
    recording.enable("jdk.ProcessStart")
    recording.start()
    try:
        action()
    finally:
        recording.stop()
    dump = spark._jvm.java.nio.file.Paths.get(str(tmp_path / "processes.jfr"), spark.sparkContext._gateway.new_array(spark._jvm.String, 0))
    recording.dump(dump)
    recording.close()
    return [event.getString("command") for event in jfr.consumer.RecordingFile.readAllEvents(dump)]


def test_a_local_session_starts_no_process_for_each_local_file(spark, tmp_path):
    """The local file system sets permissions and reads a path's status through java.nio,
    where Hadoop's starts `chmod` and `readlink` (csmetrics.local_fs): none is started by a
    Delta table's writes, and the answers are Hadoop's."""
    jvm = spark._jvm
    fs = hadoop_file_system(spark, tmp_path)
    assert fs.getClass().getName() == local_fs.CLASS
    path = str(tmp_path / "table")

    assert [c for c in processes_started(spark, tmp_path, lambda: write_two_versions(spark, path)) if c.split()[0] in ("chmod", "readlink")] == []

    folder = jvm.org.apache.hadoop.fs.Path(str(tmp_path / "made"))
    assert fs.mkdirs(folder, jvm.org.apache.hadoop.fs.permission.FsPermission(0o750))
    file = jvm.org.apache.hadoop.fs.Path(str(tmp_path / "made" / "a.json"))
    fs.create(file).close()
    fs.setPermission(file, jvm.org.apache.hadoop.fs.permission.FsPermission(0o640))
    assert stat.S_IMODE((tmp_path / "made").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "made" / "a.json").stat().st_mode) == 0o640
    status = fs.getFileLinkStatus(file)
    assert (status.isFile(), status.isSymlink(), status.getLen()) == (True, False, 0)
    (tmp_path / "link").symlink_to(tmp_path / "made" / "a.json")
    assert fs.getFileLinkStatus(jvm.org.apache.hadoop.fs.Path(str(tmp_path / "link"))).isSymlink()
    missing = jvm.org.apache.hadoop.fs.Path(str(tmp_path / "missing"))
    for call in (lambda: fs.getFileLinkStatus(missing), lambda: fs.setPermission(missing, jvm.org.apache.hadoop.fs.permission.FsPermission(0o640))):
        with pytest.raises(Exception, match="FileNotFoundException"):
            call()


def test_a_rename_through_the_file_context_never_replaces_a_file(spark, tmp_path):
    """Delta writes each log version to a temporary file and renames it through Hadoop's
    FileContext without overwrite: of two writers of one version, the second must fail."""
    jvm = spark._jvm
    context = jvm.org.apache.hadoop.fs.FileContext.getFileContext(jvm.java.net.URI("file:///"), spark.sparkContext._jsc.hadoopConfiguration())
    assert context.getDefaultFileSystem().getClass().getName() == f"{local_fs.CLASS}$Fs"
    (tmp_path / "00000000000000000001.json").write_text("first")
    (tmp_path / "temporary").write_text("second")
    # As Delta's log store renames: Rename.NONE.
    no_overwrite = spark.sparkContext._gateway.new_array(jvm.org.apache.hadoop.fs.Options.Rename, 1)
    no_overwrite[0] = jvm.org.apache.hadoop.fs.Options.Rename.NONE

    def rename(source: str, target: str) -> None:
        context.rename(jvm.org.apache.hadoop.fs.Path(str(tmp_path / source)), jvm.org.apache.hadoop.fs.Path(str(tmp_path / target)), no_overwrite)

    with pytest.raises(Exception, match="FileAlreadyExistsException"):
        rename("temporary", "00000000000000000001.json")
    assert (tmp_path / "00000000000000000001.json").read_text() == "first"
    rename("temporary", "00000000000000000002.json")
    assert (tmp_path / "00000000000000000002.json").read_text() == "second"


def test_a_session_on_a_cluster_or_with_its_own_file_system_keeps_hadoop_raw_one(monkeypatch):
    # Executors of `local-cluster` and of a real cluster are other JVMs, without the class.
    assert [m for m in ("local", "local[*]", "local[4,2]", "local-cluster[2,1,1024]", "spark://host:7077", "yarn") if local_fs.in_one_jvm(m)] == [
        "local", "local[*]", "local[4,2]"
    ]
    assert spark_settings(Settings())["spark.hadoop.fs.file.impl"] == local_fs.RAW["spark.hadoop.fs.file.impl"]
    assert local_fs.local_settings({"spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.LocalFileSystem"}) == {}
    added = local_fs.local_settings({"spark.driver.extraClassPath": "/opt/extra.jar"})
    assert added["spark.driver.extraClassPath"] == f"/opt/extra.jar{os.pathsep}{local_fs.jar_path()}"
    # A cache that cannot be written, then no javac: the session starts with the raw one.
    monkeypatch.setattr(local_fs, "jar_path", lambda: Path("/proc/csmetrics/process-free-local-fs.jar"))
    assert local_fs.local_settings({}) == {}
    monkeypatch.setattr(local_fs, "_javac", lambda: None)
    assert local_fs.local_settings({}) == {}
