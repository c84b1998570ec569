"""Settings: one declaration gives the parsing, `csmetrics --help` and README's table."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from csmetrics.config import Settings, SettingsError, environment_help, environment_table

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


OUT_OF_RANGE = {
    "business hours that end before they start": (
        {"CSMETRICS_BUSINESS_START": "09:00:00", "CSMETRICS_BUSINESS_END": "08:30:00"}, "CSMETRICS_BUSINESS_END='08:30:00'",
        "after CSMETRICS_BUSINESS_START 09:00:00"),
    "business hours that end as they start": (
        {"CSMETRICS_BUSINESS_START": "08:00:00", "CSMETRICS_BUSINESS_END": "08:00"}, "CSMETRICS_BUSINESS_END='08:00'",
        "after CSMETRICS_BUSINESS_START 08:00:00"),
    "an invalid share above 1": ({"CSMETRICS_MAX_INVALID_SHARE": "1.5"}, "CSMETRICS_MAX_INVALID_SHARE='1.5'", "between 0 and 1"),
    "a negative held-back share": ({"CSMETRICS_MAX_HELD_BACK_SHARE": "-0.01"}, "CSMETRICS_MAX_HELD_BACK_SHARE='-0.01'", "between 0 and 1"),
    "a share that is not a number": ({"CSMETRICS_MAX_INVALID_SHARE": "nan"}, "CSMETRICS_MAX_INVALID_SHARE='nan'", "between 0 and 1"),
    "an anomaly factor of 1": ({"CSMETRICS_VOLUME_ANOMALY_FACTOR": "1"}, "CSMETRICS_VOLUME_ANOMALY_FACTOR='1'", "above 1"),
    "a collapse factor below 1": ({"CSMETRICS_VOLUME_COLLAPSE_FACTOR": "0.5"}, "CSMETRICS_VOLUME_COLLAPSE_FACTOR='0.5'", "above 1"),
    "no shuffle partitions": ({"CSMETRICS_SHUFFLE_PARTITIONS": "0"}, "CSMETRICS_SHUFFLE_PARTITIONS='0'", "less than 1"),
    "negative staging days": ({"CSMETRICS_STAGING_KEEP_DAYS": "-1"}, "CSMETRICS_STAGING_KEEP_DAYS='-1'", "less than 0"),
    "a peer group of no shop": ({"CSMETRICS_MIN_PEERS": "0"}, "CSMETRICS_MIN_PEERS='0'", "less than 1"),
}


@pytest.mark.parametrize("case", list(OUT_OF_RANGE))
def test_a_setting_out_of_range_is_refused_in_one_line(monkeypatch, case):
    environment, *phrases = OUT_OF_RANGE[case]
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    message = str(refused.value)
    assert len(message.splitlines()) == 1, message
    for phrase in phrases:
        assert phrase in message, message


def test_the_edges_of_each_range_are_allowed(monkeypatch):
    for variable, value in {
        "CSMETRICS_BUSINESS_START": "00:00:00", "CSMETRICS_BUSINESS_END": "00:00:01", "CSMETRICS_MAX_INVALID_SHARE": "0",
        "CSMETRICS_MAX_HELD_BACK_SHARE": "1", "CSMETRICS_VOLUME_ANOMALY_FACTOR": "1.01", "CSMETRICS_VOLUME_COLLAPSE_FACTOR": "1.5",
        "CSMETRICS_SHUFFLE_PARTITIONS": "1", "CSMETRICS_STAGING_KEEP_DAYS": "0", "CSMETRICS_MIN_PEERS": "1",
    }.items():
        monkeypatch.setenv(variable, value)
    settings = Settings.from_env()
    assert (settings.business_start, settings.business_end) == (time(0), time(0, 0, 1))
    assert (settings.max_invalid_share, settings.max_held_back_share) == (0.0, 1.0)
    assert (settings.volume_anomaly_factor, settings.volume_collapse_factor) == (1.01, 1.5)
    assert (settings.shuffle_partitions, settings.staging_keep_days, settings.min_peers) == (1, 0, 1)


def test_a_benchmark_needs_five_peers_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("CSMETRICS_MIN_PEERS", raising=False)
    assert Settings.from_env().min_peers == 5
    monkeypatch.setenv("CSMETRICS_MIN_PEERS", "8")
    assert Settings.from_env().min_peers == 8
