"""What one pass over a backfill chunk accepts (csmetrics.chunk), without Spark."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from csmetrics.chunk import check_chunk, disjoint
from csmetrics.plan import RunPlan

END = date(2026, 3, 10)


def test_a_chunk_of_backfill_days_is_accepted():
    check_chunk(RunPlan.backfill_days([date(2026, 3, 3), date(2026, 3, 4)], END))
    # With the backfill's end last: it owns all of its slices.
    check_chunk(RunPlan.backfill_days([date(2026, 3, 9), END], END))


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda chunk: replace(chunk, parts=()), "own slices"),
        (lambda chunk: replace(chunk, retries=((date(2026, 3, 1), "s1", "pickup_rate"),)), "no retries"),
        (lambda chunk: replace(chunk, shop_ids=("s1",)), "every shop"),
        (lambda chunk: replace(chunk, kept_final=frozenset({(date(2026, 3, 2), "pickup_rate")})), "no retries"),
        (lambda chunk: replace(chunk, parts=(replace(chunk.parts[0], slices=None), chunk.parts[1])), "own slices"),
        (lambda chunk: replace(chunk, slices=(*chunk.slices, (date(2026, 3, 9), "pickup_rate"))), "exactly its days' slices"),
        # A day owning its own date's pickup_rate (window 1): provisional at that day.
        (lambda chunk: replace(chunk, parts=(replace(chunk.parts[0], slices=((date(2026, 3, 3), "pickup_rate"),)), chunk.parts[1]),
                               slices=tuple(sorted([(date(2026, 3, 3), "pickup_rate"), *chunk.parts[1].slices]))), "not final"),
        # The end's daily run must come last: the rows are finished as of the last day.
        (lambda chunk: replace(chunk, run_date=date(2026, 3, 3)), "last day's"),
    ],
)
def test_what_one_pass_cannot_compute_is_refused(spoil, message):
    chunk = RunPlan.backfill_days([date(2026, 3, 3), date(2026, 3, 4)], END)
    with pytest.raises(ValueError, match=message):
        check_chunk(spoil(chunk))


def test_spans_merge_where_they_overlap_or_touch():
    d = lambda day: date(2026, 3, day)  # noqa: E731
    assert disjoint([(d(5), d(8)), (d(1), d(2)), (d(3), d(4)), (d(7), d(9)), (d(12), d(12))]) == [(d(1), d(9)), (d(12), d(12))]
    assert disjoint([]) == []


def test_only_the_last_day_of_a_chunk_may_own_every_slice():
    chunk = RunPlan.backfill_days([date(2026, 3, 9), END], END)
    first, last = chunk.parts
    # The end's whole daily run first, a day's final slices after it.
    spoiled = replace(chunk, parts=(last, replace(first, run_date=date(2026, 3, 11))), run_date=date(2026, 3, 11))
    with pytest.raises(ValueError, match="own slices"):
        check_chunk(spoiled)
