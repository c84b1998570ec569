"""Every DAG file imports cleanly, and csmetrics_daily is wired as expected."""

from __future__ import annotations


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "csmetrics_daily" in dagbag.dag_ids


def test_daily_dag_waits_for_the_day_then_runs_it_in_one_task(dagbag):
    dag = dagbag.get_dag("csmetrics_daily")
    order = ["wait_until_day_complete", "run"]
    assert sorted(dag.task_ids) == sorted(order)
    for upstream, downstream in zip(order, order[1:]):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}
    # A topological sort exists only without cycles.
    assert [t.task_id for t in dag.topological_sort()] == order
    assert dag.max_active_runs == 1 and dag.catchup is False
    # Under a backfill's own max active runs, the run goes for one date at a time.
    assert dag.get_task("run").max_active_tis_per_dag == 1
    assert dag.get_task("run").op_args[0] == "run"
    assert dag.params["restate"] is False


def test_backfill_dag_maps_one_task_per_chunk(dagbag):
    dag = dagbag.get_dag("csmetrics_backfill")
    assert sorted(dag.task_ids) == ["chunk_arguments", "derive", "prepare", "run_chunk"]
    assert dag.get_task("run_chunk").upstream_task_ids == {"prepare", "chunk_arguments"}
    assert dag.get_task("derive").upstream_task_ids == {"run_chunk"}
    # One chunk at a time: neighbouring chunks publish into the same partitions.
    assert dag.get_task("run_chunk").max_active_tis_per_dagrun == 1
    assert set(dag.params) == {"start", "end", "restate", "chunk_days"}


def test_backfill_dag_sizes_its_chunks_by_the_landed_data_unless_chunk_days_is_given(dagbag, tmp_path, monkeypatch):
    """The chunks are planned before prepare, without Spark, from the landing zone: a
    twenty-fifth of 10k of driver memory (409 bytes) holds day 1 (300 bytes) alone, then days 2 and 3 (250 + 10)."""
    for partition, size in (("dt=2026-03-01", 300), ("dt=2026-03-02", 250), ("dt=2026-03-03", 10)):
        (tmp_path / "messages" / partition).mkdir(parents=True)
        (tmp_path / "messages" / partition / "part-0.parquet").write_bytes(b"x" * size)
    monkeypatch.setenv("CSMETRICS_LANDING", str(tmp_path))
    monkeypatch.setenv("CSMETRICS_DRIVER_MEMORY", "10k")
    chunk_arguments = dagbag.get_dag("csmetrics_backfill").get_task("chunk_arguments").python_callable
    params = {"start": "2026-03-01", "end": "2026-03-03", "restate": False, "chunk_days": None}
    chunk = lambda arguments: (arguments[2], arguments[4])  # noqa: E731  (--first, --last)
    assert [chunk(a) for a in chunk_arguments(params=params)] == [("2026-03-01", "2026-03-01"), ("2026-03-02", "2026-03-03")]
    assert [chunk(a) for a in chunk_arguments(params={**params, "chunk_days": 3})] == [("2026-03-01", "2026-03-03")]


def test_gold_tables_are_assets_that_the_export_dag_is_scheduled_on(dagbag):
    daily, backfill = dagbag.get_dag("csmetrics_daily"), dagbag.get_dag("csmetrics_backfill")
    names = lambda task: sorted(asset.name for asset in task.outlets)  # noqa: E731
    assert names(daily.get_task("run")) == [
        "csmetrics.gold.agent_metrics_daily", "csmetrics.gold.experience_score_daily", "csmetrics.gold.governance_weekly",
        "csmetrics.gold.leaderboard_daily", "csmetrics.gold.metric_alerts_daily", "csmetrics.gold.peer_benchmarks_daily",
        "csmetrics.gold.scene_benchmarks_daily", "csmetrics.gold.scene_metrics_daily", "csmetrics.gold.session_detail_daily",
        "csmetrics.gold.shop_metric_trends", "csmetrics.gold.shop_metrics_daily", "csmetrics.gold.shop_metrics_monthly",
        "csmetrics.gold.shop_metrics_weekly",
    ]
    assert names(backfill.get_task("derive")) == names(daily.get_task("run"))
    assert [t.task_id for t in daily.tasks if t.outlets] == ["run"]
    export = dagbag.get_dag("csmetrics_leaderboard_export")
    assert [asset.name for asset in export.timetable.asset_condition.objects] == ["csmetrics.gold.leaderboard_daily"]
    alerts = dagbag.get_dag("csmetrics_alert_notify")
    assert [asset.name for asset in alerts.timetable.asset_condition.objects] == ["csmetrics.gold.metric_alerts_daily"]
    assert alerts.task_ids == ["notify_alerts"]


def test_maintenance_runs_weekly_away_from_the_daily_publish(dagbag):
    maintenance = dagbag.get_dag("csmetrics_maintenance")
    assert maintenance.task_ids == ["maintain"]
    assert maintenance.timetable.expression == "0 3 * * 0"


def test_one_setting_switches_every_step_to_spark_submit(airflow_home, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    from tests.dag.conftest import DAGS

    monkeypatch.setenv("CSMETRICS_SPARK_CONN_ID", "spark_csmetrics")
    bag = DagBag(str(DAGS))
    assert bag.import_errors == {}
    daily = bag.get_dag("csmetrics_daily")
    steps = [t for t in daily.tasks if t.task_id != "wait_until_day_complete"]
    assert steps and all(isinstance(t, SparkSubmitOperator) for t in steps)
    run = daily.get_task("run")
    assert run._conn_id == "spark_csmetrics" and run.packages.startswith("io.delta:delta-spark_4.2_2.13:")
    assert run.application.endswith("jobs/csmetrics/submit.py")
    assert run.application_args[:3] == ["run", "--date", "{{ data_interval_start | ds }}"]


def test_every_task_has_an_owner_a_timeout_and_a_failure_alert(dagbag):
    from datetime import timedelta

    from csmetrics.orchestration import OWNER, report_failure

    for dag_id in ("csmetrics_daily", "csmetrics_backfill", "csmetrics_maintenance", "csmetrics_leaderboard_export", "csmetrics_alert_notify"):
        for task in dagbag.get_dag(dag_id).tasks:
            assert task.owner == OWNER != "airflow", (dag_id, task.task_id)
            assert timedelta(0) < task.execution_timeout <= timedelta(hours=3), (dag_id, task.task_id)
            assert report_failure in task.on_failure_callback, (dag_id, task.task_id)
    daily = dagbag.get_dag("csmetrics_daily")
    # The sensor waits 14 h after the interval in a run on time; it gives up within the day
    # (BaseSensorOperator keeps its timeout in seconds).
    assert timedelta(hours=14).total_seconds() < daily.get_task("wait_until_day_complete").timeout < timedelta(days=1).total_seconds()
    assert daily.dagrun_timeout == timedelta(hours=24)


def test_a_failed_task_logs_one_line_saying_what_failed_and_what_to_do(caplog):
    from types import SimpleNamespace

    from csmetrics.orchestration import report_failure

    ti = SimpleNamespace(dag_id="csmetrics_daily", task_id="run", run_id="scheduled__2026-03-02T00:00:00+00:00", try_number=2)
    report_failure({"task_instance": ti, "ds": "2026-03-02", "exception": ValueError("DELTA_CONCURRENT_APPEND")})
    [record] = [r for r in caplog.records if r.name == "csmetrics.alerts"]
    assert record.levelname == "ERROR"
    assert record.getMessage() == (
        "csmetrics csmetrics_daily.run failed for 2026-03-02 (run scheduled__2026-03-02T00:00:00+00:00, try 2): "
        "DELTA_CONCURRENT_APPEND. Every step is idempotent: fix the cause, then clear the task."
    )
