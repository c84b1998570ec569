"""The registry is the one list of metrics: the docs page and the plan follow it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from csmetrics import registry
from csmetrics.metrics.families import FAMILIES, recompute_horizon_days
from csmetrics.metrics.family import TIMEZONE_MARGIN_DAYS
from csmetrics.plan import RunPlan
from csmetrics.registry_doc import render

ROOT = Path(__file__).resolve().parents[2]


def test_docs_page_is_generated_from_the_registry():
    assert (ROOT / "docs" / "metric-registry.md").read_text() == render(), (
        "run: .venv/bin/python -m csmetrics.registry_doc > docs/metric-registry.md"
    )


def test_every_spec_metric_is_registered_once():
    ids = [m.id for m in registry.METRICS]
    assert len(ids) == len(set(ids)) == 33


def test_run_plan_follows_each_window():
    plan = RunPlan(date(2026, 3, 20)).metrics_by_date()
    assert min(plan) == date(2026, 3, 5) and max(plan) == date(2026, 3, 20)  # w = 15
    assert plan[date(2026, 3, 5)] == ["resolution_rate_15d"]
    assert "fcr_3d" in plan[date(2026, 3, 17)] and "fcr_3d" not in plan[date(2026, 3, 16)]
    assert "pickup_rate" in plan[date(2026, 3, 19)] and "pickup_rate" not in plan[date(2026, 3, 18)]
    assert "complaint_rate_14d" in plan[date(2026, 3, 20)] and "complaint_rate_14d" not in plan[date(2026, 3, 19)]


def test_range_restatement_keeps_its_slices_final():
    plan = RunPlan.restatement([(date(2026, 3, 2), "pickup_rate"), (date(2026, 3, 2), "fcr_3d")])
    assert plan.run_date == date(2026, 3, 5)  # fcr_3d of 03-02 became final with the run for 03-05
    assert plan.cutoff is None
    assert plan.metrics_by_date() == {date(2026, 3, 2): ["fcr_3d", "pickup_rate"]}


def test_a_backfill_chunk_plans_each_days_final_slices_with_its_own_cutoff():
    plan = RunPlan.backfill_days([date(2026, 3, 3), date(2026, 3, 4)], end=date(2026, 3, 10))
    assert plan.run_date == date(2026, 3, 4)
    assert [part.cutoff for part in plan.parts] == [datetime(2026, 3, 4, 14, tzinfo=UTC), datetime(2026, 3, 5, 14, tzinfo=UTC)]
    by_date = plan.metrics_by_date()
    # Each day's window-w metrics of its date - w: pickup_rate (w = 1) of 03-02 and 03-03,
    # fcr_3d (w = 3) of 02-28 and 03-01, complaints (w = 0) of the days themselves.
    assert [day for day, metrics in by_date.items() if "pickup_rate" in metrics] == [date(2026, 3, 2), date(2026, 3, 3)]
    assert [day for day, metrics in by_date.items() if "fcr_3d" in metrics] == [date(2026, 2, 28), date(2026, 3, 1)]
    assert [day for day, metrics in by_date.items() if "complaint_rate_14d" in metrics] == [date(2026, 3, 3), date(2026, 3, 4)]
    assert plan.final_by_date() == by_date
    assert sorted(plan.slices) == sorted(s for part in plan.parts for s in part.slices)
    with pytest.raises(ValueError, match="after the backfill's end"):
        RunPlan.backfill_days([date(2026, 3, 10), date(2026, 3, 11)], end=date(2026, 3, 10))


def test_a_chunk_ending_the_backfill_owns_every_slice_of_the_end_as_its_daily_run():
    end = date(2026, 3, 10)
    plan = RunPlan.backfill_days([date(2026, 3, 9), end], end=end)
    assert plan.run_date == end and plan.parts[-1] == RunPlan(end)
    by_date = plan.metrics_by_date()
    # pickup_rate (w = 1): 03-08, final with the run for 03-09; 03-09 and 03-10, the end's.
    assert [day for day, metrics in by_date.items() if "pickup_rate" in metrics] == [date(2026, 3, 8), date(2026, 3, 9), end]
    # 03-09 is final at the end's run (its window has passed), 03-10 provisional, as the end's daily run leaves them.
    assert [day for day, metrics in plan.final_by_date().items() if "pickup_rate" in metrics] == [date(2026, 3, 8), date(2026, 3, 9)]
    assert plan.owned_slices == sorted([*plan.parts[0].slices, *RunPlan(end).owned_slices])


def test_late_record_horizon_per_table():
    assert recompute_horizon_days("ratings") == 1
    assert recompute_horizon_days("messages") == 3
    assert recompute_horizon_days("complaints") == 15
    assert recompute_horizon_days("shops") is None


def test_families_sharing_the_conformed_sessions_read_them_a_day_either_side():
    # PlanInputs.sessions_of_dates conforms sessions once for these families and cuts them to
    # each family's dates: a family reading less than a local date can reach would get rows
    # its own read never held.
    sharing = [family for family in FAMILIES.values() if family.conformed_sessions]
    assert {family.name for family in sharing} == {"conversation", "sales", "fcr", "resolution"}
    for family in sharing:
        read = family.read_of("sessions")
        assert min(read.before, read.after) >= TIMEZONE_MARGIN_DAYS, family.name
