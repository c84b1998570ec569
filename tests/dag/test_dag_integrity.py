"""Every DAG file imports cleanly, and csmetrics_daily is wired as expected."""

from __future__ import annotations


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "csmetrics_daily" in dagbag.dag_ids


def test_daily_dag_runs_its_steps_in_order(dagbag):
    dag = dagbag.get_dag("csmetrics_daily")
    order = ["wait_until_day_complete", "ingest", "validate_bronze", "compute", "validate_gold", "publish", "derive"]
    assert sorted(dag.task_ids) == sorted(order)
    for upstream, downstream in zip(order, order[1:]):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}
    # A topological sort exists only without cycles.
    assert [t.task_id for t in dag.topological_sort()] == order
    assert dag.max_active_runs == 1 and dag.catchup is False
    # Under a backfill's own max active runs, only compute runs for several dates at once.
    assert [t for t in order[1:] if dag.get_task(t).max_active_tis_per_dag != 1] == ["compute"]
    assert dag.params["restate"] is False


def test_backfill_dag_maps_one_task_per_chunk(dagbag):
    dag = dagbag.get_dag("csmetrics_backfill")
    assert sorted(dag.task_ids) == ["chunk_arguments", "derive", "prepare", "run_chunk"]
    assert dag.get_task("run_chunk").upstream_task_ids == {"prepare", "chunk_arguments"}
    assert dag.get_task("derive").upstream_task_ids == {"run_chunk"}
    assert dag.get_task("run_chunk").max_active_tis_per_dagrun == 2
    assert set(dag.params) == {"start", "end", "restate", "chunk_days"}


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
    publish = daily.get_task("publish")
    assert publish._conn_id == "spark_csmetrics" and publish.packages.startswith("io.delta:delta-spark_4.2_2.13:")
    assert publish.application.endswith("jobs/csmetrics/submit.py")
    assert publish.application_args[:3] == ["publish", "--date", "{{ data_interval_start | ds }}"]
