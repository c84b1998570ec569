"""The Delta jars are resolved once and then loaded from a manifest; an entry point starts Spark
while it imports the pipeline."""

from __future__ import annotations

import threading

import pytest

from csmetrics import spark as spark_module


def test_a_manifest_of_existing_jars_is_used_and_a_stale_one_is_not(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert spark_module.cached_delta_jars() is None
    jars = [tmp_path / "delta-spark.jar", tmp_path / "delta-storage.jar"]
    for jar in jars:
        jar.write_bytes(b"")
    manifest = spark_module._jar_manifest()
    manifest.parent.mkdir(parents=True)
    manifest.write_text("".join(f"file://{jar}\n" for jar in jars))
    assert spark_module.cached_delta_jars() == [f"file://{jar}" for jar in jars]
    jars[1].unlink()
    assert spark_module.cached_delta_jars() is None


def test_the_session_of_the_tests_loaded_the_listed_jars(spark):
    listed = spark_module.cached_delta_jars()
    assert listed and set(listed) <= set(spark.sparkContext.getConf().get("spark.jars").split(","))


def test_spark_starts_on_a_thread_while_the_caller_goes_on(monkeypatch, settings):
    started_jvm = threading.Event()
    monkeypatch.setattr(spark_module, "get_spark", lambda _settings: started_jvm.wait(10) and "session")
    starting = spark_module.start_spark_in_background(settings)
    assert not starting.done()
    started_jvm.set()
    assert starting.result(timeout=10) == "session"


def test_a_failed_start_is_raised_to_whoever_waits_for_the_session(monkeypatch, settings):
    def no_java(_settings):
        raise FileNotFoundError("java")

    monkeypatch.setattr(spark_module, "get_spark", no_java)
    with pytest.raises(FileNotFoundError):
        spark_module.start_spark_in_background(settings).result(timeout=10)


def test_a_session_started_in_the_background_is_the_process_session(spark, settings):
    assert spark_module.start_spark_in_background(settings).result(timeout=60) is spark
