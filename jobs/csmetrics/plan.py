"""The maturity model (SPEC §4-5): which dates and metrics a run writes, and how final they are."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from csmetrics import registry
from csmetrics.delta_io import sql_in, sql_literal
from csmetrics.schedule import cutoff


@dataclass(frozen=True)
class RunPlan:
    """The run for `run_date` writes, for each metric with window w, every date in [R - w, R]:
    final for R - w, provisional after it. With `restate`, it reads every record that has
    landed instead of stopping at the run's arrival cutoff.

    A range restatement (`RunPlan.restatement`) owns an explicit list of final slices.

    What gold already holds decides two more things (csmetrics.finality reads it):
    `kept_final`, the slices of the plan that an earlier run made final, which stay final
    when recomputed (SPEC §5: a restatement never demotes a row); and `retries`, the
    held-back shop-days of earlier runs whose slices are final by now, which this run
    computes again for their shops only (docs/maturity.md, "Held-back shop-days").
    """

    run_date: date
    families: tuple[str, ...] = registry.families()
    restate: bool = False
    slices: tuple[tuple[date, str], ...] | None = None
    kept_final: frozenset[tuple[date, str]] = frozenset()
    # (stat_date, shop_id, metric) of held-back shop-days to finalise in this run.
    retries: tuple[tuple[date, str, str], ...] = ()
    # Inputs read for these shops only (a plan of retries); None: every shop.
    shop_ids: tuple[str, ...] | None = None
    # Publish even shop-days that fail row-level checks: an operator accepted them
    # (`csmetrics release`); the checks are still run and recorded.
    accept: bool = False
    # The backfill days of a chunk (`RunPlan.backfill_days`): each computes its own slices
    # from what had landed by its own cutoff, all in one pass (csmetrics.chunk); the chunk
    # gates and publishes them together.
    parts: tuple[RunPlan, ...] = ()

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

    @classmethod
    def backfill_days(cls, days: list[date], end: date, restate: bool = False) -> RunPlan:
        """The backfill days of a chunk as one plan: the slices of every day (`backfill_day`,
        disjoint), each day's computed as of its own cutoff (`parts`), gated and published at
        once. The days before `end` own final slices; `end` itself, when the chunk holds it,
        owns all of its slices, final and provisional, as its daily run does. The plan's date
        is the chunk's last day: every slice is as final at it as at its own day's run."""
        if not days or max(days) > end:
            raise ValueError(f"backfill days {days} must not come after the backfill's end {end}")
        parts = tuple(cls.backfill_day(day, end, restate) for day in sorted(days))
        slices = tuple(sorted(s for part in parts for s in part.owned_slices))
        return cls(parts[-1].run_date, restate=restate, slices=slices, parts=parts)

    @classmethod
    def release(cls, run_date: date, pending: list[tuple[date, str, str]]) -> RunPlan:
        """Finalise these held-back (stat_date, shop_id, metric) as they are now, accepted by
        an operator: every record landed is read, row-level checks hold nothing back."""
        return cls(run_date, restate=True, slices=(), retries=tuple(sorted(pending)), accept=True)

    def is_final(self, day: date, metric: str) -> bool:
        return day <= self.run_date - timedelta(days=registry.BY_ID[metric].window_days) or (day, metric) in self.kept_final

    def final_by_date(self) -> dict[date, list[str]]:
        """The slices this run writes as final."""
        final: dict[date, list[str]] = {}
        for day, metrics in self.metrics_by_date().items():
            kept = [m for m in metrics if self.is_final(day, m)]
            if kept:
                final[day] = kept
        return final

    def kept_final_predicate(self) -> str:
        """SQL over (stat_date, metric): the slices kept final although their window has not
        passed at `run_date` ("false" when none)."""
        kept: dict[date, list[str]] = {}
        for day, metric in sorted(self.kept_final):
            kept.setdefault(day, []).append(metric)
        return slices_predicate(kept) if kept else "false"

    def retry_plan(self) -> RunPlan | None:
        """The plan of this run's retries: their slices, for their shops only, all final."""
        if not self.retries:
            return None
        slices = tuple(sorted({(day, metric) for day, _, metric in self.retries}))
        shops = tuple(sorted({shop for _, shop, _ in self.retries}))
        return RunPlan(self.run_date, self.families, self.restate, slices, frozenset(slices), (), shops, self.accept)

    def retry_predicate(self, shop_days_of: str | None = None) -> str:
        """SQL matching the rows of the retried (stat_date, shop_id, metric) ("false" when
        none); with `shop_days_of`, the whole (stat_date, shop_id) of the retries of that
        metric (for a table without a metric column: the session detail)."""
        by_shop_day: dict[tuple[date, str], list[str]] = {}
        for day, shop, metric in self.retries:
            if shop_days_of in (None, metric):
                by_shop_day.setdefault((day, shop), []).append(metric)
        if not by_shop_day:
            return "false"
        return " OR ".join(
            f"(stat_date = '{day}' AND shop_id = {sql_literal(shop)}" + (f" AND {sql_in('metric', metrics)})" if shop_days_of is None else ")")
            for (day, shop), metrics in sorted(by_shop_day.items())
        )

    @property
    def every_date(self) -> list[date]:
        """The dates of the plan's slices and of its retries."""
        return sorted(set(self.dates) | {day for day, _, _ in self.retries})

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
    def owned_slices(self) -> list[tuple[date, str]]:
        """The (stat_date, metric) slices the plan owns, sorted."""
        return [(day, metric) for day, metrics in self.metrics_by_date().items() for metric in sorted(metrics)]

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


def slices_predicate(metrics_by_date: Mapping[date, Collection[str]], alias: str = "", column: str = "stat_date") -> str:
    """SQL matching the rows of these (stat_date, metric) slices ("false" when there are none);
    `alias` qualifies the columns (a MERGE's `t`), `column` names the date's (a period start)."""
    if not metrics_by_date:
        return "false"
    qualified = f"{alias}." if alias else ""
    return " OR ".join(
        f"({qualified}{column} = '{day}' AND {sql_in(f'{qualified}metric', sorted(metrics))})" for day, metrics in sorted(metrics_by_date.items())
    )


def any_of(*predicates: str) -> str:
    """SQL matching rows that match any of `predicates` ("false" ones add nothing)."""
    kept = [p for p in predicates if p != "false"]
    return " OR ".join(f"({p})" for p in kept) if kept else "false"
