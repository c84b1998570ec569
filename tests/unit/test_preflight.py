"""Bad settings and arguments end in one line and exit 1 before any Spark starts."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from csmetrics import cli, pipeline, show, submit

# Every pipeline entry point the command line and the DAG tasks call.
STEPS = (
    "run_daily", "restate_range", "backfill", "ingest_step", "validate_bronze_step", "compute_step", "validate_step", "publish_step",
    "derive_step", "bronze_phase", "gold_phase", "backfill_prepare_step", "backfill_chunk_step", "backfill_derive_step", "maintain_step", "release",
)


@pytest.fixture
def no_spark(tmp_path, monkeypatch):
    """A valid environment whose pipeline entry points fail the test if they are reached."""
    landing = tmp_path / "landing"
    (landing / "messages").mkdir(parents=True)
    monkeypatch.setenv("CSMETRICS_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("CSMETRICS_LANDING", str(landing))
    for variable in ("CSMETRICS_GOVERNANCE_THRESHOLDS", "CSMETRICS_EXPERIENCE_INDICATORS", "CSMETRICS_SPARK_CONF", "CSMETRICS_GX_ROOT"):
        monkeypatch.delenv(variable, raising=False)

    def reached(*args, **kwargs):
        raise AssertionError("the pipeline started although a setting was bad")

    for name in STEPS:
        monkeypatch.setattr(pipeline, name, reached)
    monkeypatch.setattr(show, "get_spark", reached)
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
    "business end before its start": ("CSMETRICS_BUSINESS_END", "07:00:00", ["CSMETRICS_BUSINESS_END='07:00:00'", "after"]),
    "a share above 1": ("CSMETRICS_MAX_HELD_BACK_SHARE", "5", ["CSMETRICS_MAX_HELD_BACK_SHARE='5'", "between 0 and 1"]),
    "a volume factor of 1": ("CSMETRICS_VOLUME_COLLAPSE_FACTOR", "1.0", ["CSMETRICS_VOLUME_COLLAPSE_FACTOR='1.0'", "above 1"]),
    "a score of two indicators": (
        "CSMETRICS_EXPERIENCE_INDICATORS", "reply_3min_rate;pickup_rate", ["CSMETRICS_EXPERIENCE_INDICATORS", "at least 3"],
    ),
    "an alert z of 0": ("CSMETRICS_ALERT_Z", "0", ["CSMETRICS_ALERT_Z='0'", "above 0"]),
    "a critical z below the alert z": ("CSMETRICS_ALERT_CRITICAL_Z", "2", ["CSMETRICS_ALERT_CRITICAL_Z=2 is below CSMETRICS_ALERT_Z=3.5"]),
    "a threshold metric named twice": (
        "CSMETRICS_GOVERNANCE_THRESHOLDS", "pickup_rate>=0.8;avg_wait_seconds<300;pickup_rate>=0.9",
        ["CSMETRICS_GOVERNANCE_THRESHOLDS", "'pickup_rate' is named twice"],
    ),
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


SCHEDULED = "scheduled__2026-03-02T00:00:00+00:00"


@pytest.mark.parametrize("step", ["bronze", "gold", "ingest", "compute", "validate_gold", "publish", "derive", "run"])
def test_a_daily_step_without_its_date_is_refused(no_spark, capsys, step):
    assert submit.main([step, "--run-id", SCHEDULED]) == 1
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1, message
    assert f"{step} needs --date" in message, message


def test_the_bronze_gate_without_its_run_id_is_refused(no_spark, capsys):
    assert submit.main(["validate_bronze"]) == 1
    assert "validate_bronze needs --run-id" in capsys.readouterr().err


def test_a_malformed_step_date_is_refused_in_one_line(no_spark, capsys):
    assert submit.main(["publish", "--date", "2026-02-30", "--run-id", SCHEDULED]) == 1
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "expected a date as YYYY-MM-DD, got '2026-02-30'" in message, message


@pytest.fixture
def computed(no_spark, monkeypatch):
    """The arguments each call of pipeline.compute_step got."""
    calls = []
    monkeypatch.setattr(pipeline, "compute_step", lambda run_date, run_id, restate: calls.append((run_date, run_id, restate)))
    return calls


@pytest.mark.parametrize(("flag", "restate"), [
    ([], False), (["--restate"], True), (["--restate", "true"], True), (["--restate", "True"], True),
    (["--restate", "false"], False), (["--restate", "False"], False),
])
def test_restate_is_a_flag_and_still_takes_the_dags_true_or_false(computed, flag, restate):
    # The DAGs template `--restate {{ params.restate }}`: Jinja renders the boolean param True or False.
    submit.run_step("compute", "--date", "2026-03-02", "--run-id", SCHEDULED, *flag)
    assert computed == [(date(2026, 3, 2), SCHEDULED, restate)]


@pytest.mark.parametrize(("flag", "run_id"), [([], "cli__2026-03-02"), (["--restate"], "cli_restate__2026-03-02")])
def test_a_restatement_of_a_date_gets_its_own_default_run_id(no_spark, monkeypatch, flag, run_id):
    # The daily run's cutoff and settlements are recorded under its id: a restatement of the
    # same date by hand must not share it.
    runs = []
    monkeypatch.setattr(pipeline, "run_daily", lambda run_date, run_id, restate, progress: runs.append((run_date, run_id, restate)))
    assert cli.main(["run", "--date", "2026-03-02", *flag]) == 0
    assert runs == [(date(2026, 3, 2), run_id, bool(flag))]


def test_restate_before_another_option_is_the_flag(computed):
    submit.run_step("compute", "--restate", "--date", "2026-03-02", "--run-id", SCHEDULED)
    assert computed == [(date(2026, 3, 2), SCHEDULED, True)]


def test_restate_with_any_other_value_is_refused(computed, capsys):
    assert submit.main(["compute", "--date", "2026-03-02", "--run-id", SCHEDULED, "--restate", "yes"]) == 1
    assert "--restate: expected true or false, got 'yes'" in capsys.readouterr().err
    assert computed == []


def test_show_on_an_empty_warehouse_says_to_run_the_pipeline_first(no_spark, capsys):
    warehouse = (no_spark / "warehouse").resolve()
    fails_with(capsys, ["show", "--date", "2026-03-02"], f"CSMETRICS_WAREHOUSE='{warehouse}' holds no gold tables", "csmetrics run --date")


def test_show_of_a_table_not_written_yet_names_it(no_spark, capsys):
    write_deltalake(str(no_spark / "warehouse" / "gold" / "shop_metrics_daily"), pa.table({"stat_date": [date(2026, 3, 2)]}))
    fails_with(capsys, ["show", "--benchmarks", "--category", "food"], "gold/peer_benchmarks_daily does not exist", "csmetrics run --date")
    fails_with(capsys, ["show", "--leaderboard", "pickup_rate"], "gold/leaderboard_daily does not exist")


def test_show_benchmarks_without_a_category(no_spark, capsys):
    fails_with(capsys, ["show", "--benchmarks"], "--benchmarks", "--category")
