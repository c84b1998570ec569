"""Every DAG file imports cleanly, and csmetrics_daily is wired as expected."""

from __future__ import annotations


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "csmetrics_daily" in dagbag.dag_ids


def test_daily_dag_runs_its_steps_in_order(dagbag):
    dag = dagbag.get_dag("csmetrics_daily")
    order = ["wait_until_day_complete", "ingest", "compute", "validate", "publish"]
    assert sorted(dag.task_ids) == sorted(order)
    for upstream, downstream in zip(order, order[1:]):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}
    # A topological sort exists only without cycles.
    assert [t.task_id for t in dag.topological_sort()] == order
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.params["restate"] is False
