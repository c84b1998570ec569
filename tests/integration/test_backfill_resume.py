"""A backfill that failed in a chunk resumes with that chunk: the finished chunks' days are
recorded in quality/backfill_chunks, and `csmetrics backfill` never computes them again,
however the resumed run cuts its chunks; the DAG's chunk task skips a chunk whose days all
finished. The chunks' work is stood in for (its results are tested in test_maturity)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from csmetrics import backfill as backfills
from csmetrics import pipeline
from csmetrics.backfill import Chunk


def day(n: int) -> date:
    return date(2026, 3, 1) + timedelta(days=n - 1)


class ExecutorLost(RuntimeError):
    pass


@pytest.fixture
def chunk_runs(settings, monkeypatch):
    """The chunks run, in order; a chunk in `failing` fails. No ingest, no derive."""
    runs: dict = {"ran": [], "failing": set()}

    def run_chunk(spark, settings, chunk, end, restate, backfill, progress):
        runs["ran"].append(chunk)
        if chunk in runs["failing"]:
            raise ExecutorLost(f"chunk {chunk}")

    monkeypatch.setattr(backfills, "run_chunk", run_chunk)
    monkeypatch.setattr(pipeline, "backfill_prepare_step", lambda *args, **kwargs: "done")
    monkeypatch.setattr(pipeline, "backfill_derive_step", lambda *args, **kwargs: {})
    return runs


def quiet(message: str) -> None:
    pass


def test_a_failed_backfill_resumes_with_the_failed_chunk_and_the_days_after_it(spark, chunk_runs):
    chunk_runs["failing"] = {Chunk(day(3), day(4))}
    with pytest.raises(ExecutorLost):
        pipeline.backfill(day(1), day(6), chunk_days=2, progress=quiet)
    assert chunk_runs["ran"] == [Chunk(day(1), day(2)), Chunk(day(3), day(4))]

    # Run again without chunk_days (no landing zone here: chunks of a week): one chunk of the days left.
    chunk_runs["ran"].clear()
    chunk_runs["failing"] = set()
    pipeline.backfill(day(1), day(6), progress=quiet)
    assert chunk_runs["ran"] == [Chunk(day(3), day(6))]

    # Every day finished: a third run computes nothing; another backfill's range starts afresh.
    chunk_runs["ran"].clear()
    pipeline.backfill(day(1), day(6), progress=quiet)
    assert chunk_runs["ran"] == []
    pipeline.backfill(day(1), day(6), restate=True, chunk_days=3, progress=quiet)
    assert chunk_runs["ran"] == [Chunk(day(1), day(3)), Chunk(day(4), day(6))]


def test_a_dag_chunk_task_cleared_after_its_chunk_finished_is_skipped(spark, chunk_runs):
    """The DAG maps its chunks before any runs; a cleared task re-runs its own chunk only if
    any of its days is unfinished."""
    assert pipeline.backfill_chunk_step(day(1), day(2), day(1), day(4), False, quiet) == "done"
    assert pipeline.backfill_chunk_step(day(1), day(2), day(1), day(4), False, quiet) == "skipped"
    assert pipeline.backfill_chunk_step(day(2), day(3), day(1), day(4), False, quiet) == "done"
    assert chunk_runs["ran"] == [Chunk(day(1), day(2)), Chunk(day(2), day(3))]
