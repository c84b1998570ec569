"""The maturity model (SPEC §4-5): which dates and metrics a run writes, and how final they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from csmetrics import registry
from csmetrics.delta_io import sql_in
from csmetrics.schedule import cutoff


@dataclass(frozen=True)
class RunPlan:
    """The run for `run_date` writes, for each metric with window w, every date in [R - w, R]:
    final for R - w, provisional after it. With `restate`, it reads every record that has
    landed instead of stopping at the run's arrival cutoff.

    A range restatement (`RunPlan.restatement`) owns an explicit list of final slices.
    """

    run_date: date
    families: tuple[str, ...] = registry.families()
    restate: bool = False
    slices: tuple[tuple[date, str], ...] | None = None

    @classmethod
    def restatement(cls, final_slices: list[tuple[date, str]]) -> RunPlan:
        """Recompute exactly these (stat_date, metric) slices, all of them final: the plan's
        date is the latest at which one of them became final, so every slice stays final."""
        as_of = max(day + timedelta(days=registry.BY_ID[metric].window_days) for day, metric in final_slices)
        return cls(as_of, restate=True, slices=tuple(sorted(final_slices)))

    @classmethod
    def backfill_day(cls, run_date: date, end: date, restate: bool = False) -> RunPlan:
        """The part of the daily run for `run_date` that a backfill ending on `end` keeps.

        Run by run, the daily runs of a range rewrite each (D, metric) slice until the last
        of them that owns it: run D + w, or `end` if that comes later than the range. So a
        backfill day before `end` needs to write only its final slices (D = R - w), and
        `end` writes all of its slices. The days then own disjoint slices, can be computed in
        any order or in parallel, and leave exactly what the daily runs would have left."""
        if run_date >= end:
            return cls(run_date, restate=restate)
        owned = tuple(
            sorted((run_date - timedelta(days=m.window_days), m.id) for f in registry.families() for m in registry.metrics(f))
        )
        return cls(run_date, restate=restate, slices=owned)

    def metrics_by_date(self) -> dict[date, list[str]]:
        plan: dict[date, list[str]] = {}
        if self.slices is not None:
            for day, metric in self.slices:
                plan.setdefault(day, []).append(metric)
            return dict(sorted(plan.items()))
        for family in self.families:
            for metric in registry.metrics(family):
                for back in range(metric.window_days + 1):
                    plan.setdefault(self.run_date - timedelta(days=back), []).append(metric.id)
        return dict(sorted(plan.items()))

    @property
    def dates(self) -> list[date]:
        return list(self.metrics_by_date())

    def dates_for(self, family: str) -> list[date]:
        """Dates on which the plan owns at least one metric of `family`."""
        ids = {m.id for m in registry.metrics(family)}
        return [day for day, metrics in self.metrics_by_date().items() if ids.intersection(metrics)]

    def replace_predicate(self) -> str:
        """The exact slice of a gold table this run owns: (stat_date, metric) pairs."""
        return slices_predicate(self.metrics_by_date())

    @property
    def cutoff(self) -> datetime | None:
        """Data a run sees: the files that had landed by `cutoff(R)` (docs/maturity.md). A
        restatement sees everything that has landed."""
        return None if self.restate else cutoff(self.run_date)


def slices_predicate(metrics_by_date: dict[date, list[str]]) -> str:
    """SQL matching the rows of these (stat_date, metric) slices."""
    return " OR ".join(f"(stat_date = '{day}' AND {sql_in('metric', metrics)})" for day, metrics in sorted(metrics_by_date.items()))
