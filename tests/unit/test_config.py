"""Settings: one declaration gives the parsing, `csmetrics --help` and README's table."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from csmetrics.config import Settings, environment_help, environment_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_settings_parse_from_their_environment_variables(monkeypatch):
    monkeypatch.setenv("CSMETRICS_SHUFFLE_PARTITIONS", "3")
    monkeypatch.setenv("CSMETRICS_BUSINESS_END", "22:30:00")
    monkeypatch.setenv("CSMETRICS_SPARK_CONF", "spark.a=1; spark.b=x=y")
    monkeypatch.setenv("CSMETRICS_MAX_HELD_BACK_SHARE", "0.05")
    monkeypatch.setenv("CSMETRICS_WAREHOUSE", "s3a://bucket/wh")
    monkeypatch.delenv("CSMETRICS_GX_ROOT", raising=False)
    settings = Settings.from_env()
    assert settings.shuffle_partitions == 3
    assert settings.business_start == time(8) and settings.business_end == time(22, 30)
    assert settings.spark_conf == {"spark.a": "1", "spark.b": "x=y"}
    assert settings.max_held_back_share == 0.05
    assert settings.warehouse == "s3a://bucket/wh" and settings.gx_project == "s3a://bucket/wh/quality/gx"


def test_help_and_readme_list_every_setting_from_the_one_declaration():
    help_text = environment_help()
    for line in environment_table().splitlines()[2:]:
        variable = line.split("`")[1]
        assert variable in help_text
    assert environment_table() in README.read_text(), "README's settings table drifted: paste csmetrics.config.environment_table()"
