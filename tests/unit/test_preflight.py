"""Bad settings and arguments end in one line and exit 1 before any Spark starts."""

from __future__ import annotations

import pytest

from csmetrics import cli, pipeline, submit


@pytest.fixture
def no_spark(tmp_path, monkeypatch):
    """A valid environment whose pipeline entry points fail the test if they are reached."""
    landing = tmp_path / "landing"
    (landing / "messages").mkdir(parents=True)
    monkeypatch.setenv("CSMETRICS_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("CSMETRICS_LANDING", str(landing))
    for variable in ("CSMETRICS_GOVERNANCE_THRESHOLDS", "CSMETRICS_SPARK_CONF", "CSMETRICS_GX_ROOT"):
        monkeypatch.delenv(variable, raising=False)

    def reached(*args, **kwargs):
        raise AssertionError("the pipeline started although a setting was bad")

    for name in ("run_daily", "restate_range", "backfill", "ingest_step"):
        monkeypatch.setattr(pipeline, name, reached)
    return tmp_path


def fails_with(capsys, argv, *phrases, code=1):
    assert cli.main(argv) == code
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1, message
    for phrase in phrases:
        assert phrase in message, message


CASES = {
    "thresholds not a number": ("CSMETRICS_GOVERNANCE_THRESHOLDS", "pickup_rate>=abc", ["CSMETRICS_GOVERNANCE_THRESHOLDS", "'abc'"]),
    "threshold of an unknown metric": ("CSMETRICS_GOVERNANCE_THRESHOLDS", "pickup_speed>=0.8", ["unknown metric 'pickup_speed'"]),
    "threshold without a comparison": ("CSMETRICS_GOVERNANCE_THRESHOLDS", "pickup_rate", ["not of the form metric>=value"]),
    "spark conf without =": ("CSMETRICS_SPARK_CONF", "spark.executor.memory", ["CSMETRICS_SPARK_CONF", "key=value"]),
    "partitions not a number": ("CSMETRICS_SHUFFLE_PARTITIONS", "many", ["CSMETRICS_SHUFFLE_PARTITIONS='many'"]),
    "business start not a time": ("CSMETRICS_BUSINESS_START", "8am", ["CSMETRICS_BUSINESS_START"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_setting_names_itself(no_spark, monkeypatch, capsys, case):
    variable, value, phrases = CASES[case]
    monkeypatch.setenv(variable, value)
    fails_with(capsys, ["run", "--date", "2026-03-02"], *phrases)


def test_an_unwritable_warehouse(no_spark, monkeypatch, capsys):
    # Under a regular file, so that it holds for root too.
    blocker = no_spark / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("CSMETRICS_WAREHOUSE", str(blocker / "warehouse"))
    fails_with(capsys, ["run", "--date", "2026-03-02"], "CSMETRICS_WAREHOUSE", "is not writable")


def test_a_landing_root_without_tables(no_spark, monkeypatch, capsys):
    monkeypatch.setenv("CSMETRICS_LANDING", str(no_spark))
    fails_with(capsys, ["run", "--date", "2026-03-02"], "CSMETRICS_LANDING", "holds none of the landing tables")


@pytest.mark.parametrize("run_id", ["../../etc", "it's", 'a"b', "x" * 251, "a\\b"])
def test_a_run_id_that_could_reach_a_path_or_a_quote(no_spark, capsys, run_id):
    fails_with(capsys, ["run", "--date", "2026-03-02", "--run-id", run_id], "--run-id", "letters, digits")


def test_every_run_id_airflow_makes_passes(no_spark):
    from csmetrics.preflight import check_run_id

    for run_id in ("scheduled__2026-03-02T00:00:00+00:00", "manual__2026-03-03T10:11:12.123456+00:00",
                   "backfill__2026-03-02T00:00:00+00:00", "asset_triggered__2026-03-02T00:00:00+00:00", "cli__2026-03-02"):
        assert check_run_id(run_id) == run_id


@pytest.mark.parametrize("command", ["restate", "backfill"])
def test_start_after_end(no_spark, capsys, command):
    fails_with(capsys, [command, "--start", "2026-03-05", "--end", "2026-03-02"], "--end 2026-03-02 is before --start 2026-03-05")


def test_a_bad_date_is_refused_by_the_parser(no_spark, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--date", "2026-02-30"])
    assert exit_.value.code == 2
    assert "expected a date as YYYY-MM-DD, got '2026-02-30'" in capsys.readouterr().err


def test_a_dag_task_checks_the_same(no_spark, monkeypatch, capsys):
    monkeypatch.setenv("CSMETRICS_GOVERNANCE_THRESHOLDS", "pickup_rate>=abc")
    assert submit.main(["ingest", "--date", "2026-03-02", "--run-id", "scheduled__2026-03-02T00:00:00+00:00"]) == 1
    assert "CSMETRICS_GOVERNANCE_THRESHOLDS" in capsys.readouterr().err
