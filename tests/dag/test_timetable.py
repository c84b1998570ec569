"""csmetrics_daily under Airflow's real timetable: the dates the scheduler gives each run.

Read from the DAG as the scheduler holds it (serialized and deserialized), not from a
logical date chosen by a test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import jinja2
import pendulum
import pytest

from csmetrics.plan import RunPlan
from csmetrics.schedule import cutoff

UTC = UTC


@pytest.fixture(scope="module")
def scheduled_dag(dagbag):
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dagbag.get_dag("csmetrics_daily")))


def next_run(dag, last_start: datetime, last_end: datetime, now: datetime, monkeypatch):
    """What the scheduler asks the timetable at `now` after the run [last_start, last_end)."""
    import airflow.timetables.interval
    from airflow.timetables.base import DagRunInfo

    monkeypatch.setattr(airflow.timetables.interval, "utcnow", lambda: pendulum.instance(now))
    return dag.next_dagrun_info(last_automated_run_info=DagRunInfo.interval(start=last_start, end=last_end))


def test_the_run_after_the_one_for_march_3_is_for_march_4_and_is_created_when_it_ends(scheduled_dag, monkeypatch):
    info = next_run(
        scheduled_dag,
        pendulum.datetime(2026, 3, 3, tz="UTC"),
        pendulum.datetime(2026, 3, 4, tz="UTC"),
        now=datetime(2026, 3, 4, 9, 30, tzinfo=UTC),
        monkeypatch=monkeypatch,
    )
    assert info.logical_date == datetime(2026, 3, 4, tzinfo=UTC)
    assert (info.data_interval.start, info.data_interval.end) == (
        datetime(2026, 3, 4, tzinfo=UTC),
        datetime(2026, 3, 5, tzinfo=UTC),
    )
    # Created when the UTC day is over, never before: a cron *trigger* timetable would
    # create the run for March 4 at March 4 00:00.
    assert info.run_after == datetime(2026, 3, 5, tzinfo=UTC)


def test_without_catchup_a_paused_dag_resumes_with_the_last_complete_day(scheduled_dag, monkeypatch):
    """Unpaused on March 10 at 09:30 after a last run for March 3: the next run is for
    March 9 (the last day that has ended in UTC), not for March 10."""
    info = next_run(
        scheduled_dag,
        pendulum.datetime(2026, 3, 3, tz="UTC"),
        pendulum.datetime(2026, 3, 4, tz="UTC"),
        now=datetime(2026, 3, 10, 9, 30, tzinfo=UTC),
        monkeypatch=monkeypatch,
    )
    assert info.logical_date == datetime(2026, 3, 9, tzinfo=UTC)
    assert info.run_after == datetime(2026, 3, 10, tzinfo=UTC)


def test_the_run_waits_until_its_day_has_ended_everywhere_plus_the_grace(scheduled_dag):
    """The sensor's target, rendered from a real data interval, is the cutoff of R: R + 1
    14:00 UTC, when a UTC-12 day has ended and 2 h of grace have passed."""
    sensor = scheduled_dag.get_task("wait_until_day_complete")
    template = sensor.target_time
    rendered = jinja2.Template(template).render(
        data_interval_end=pendulum.datetime(2026, 3, 5, tz="UTC"), macros={"timedelta": timedelta}
    )
    assert datetime.fromisoformat(rendered) == datetime(2026, 3, 5, 14, tzinfo=UTC) == cutoff(date(2026, 3, 4))
    # A UTC-12 shop's March 4 ends at March 5 12:00 UTC.
    assert cutoff(date(2026, 3, 4)) - datetime(2026, 3, 5, 12, tzinfo=UTC) == timedelta(hours=2)


def test_every_step_computes_the_date_of_its_data_interval(scheduled_dag):
    for task in scheduled_dag.tasks:
        if task.task_id == "wait_until_day_complete":
            continue
        arguments = task.op_args
        assert arguments[1:3] == ["--date", "{{ data_interval_start | ds }}"], task.task_id


def test_a_plan_sees_the_files_landed_by_its_cutoff():
    assert RunPlan(date(2026, 3, 4)).cutoff == datetime(2026, 3, 5, 14, tzinfo=UTC)
    assert RunPlan(date(2026, 3, 4), restate=True).cutoff is None
