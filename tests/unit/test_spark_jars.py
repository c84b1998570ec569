"""The Delta jars are resolved once and then loaded from a manifest."""

from __future__ import annotations

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
