"""A run killed (SIGKILL, Spark's JVM included) inside its publish leaves every table at a
committed version with no partial slice and every landed record accounted for, and its re-run
equals a run that was never interrupted. The killed run finds an earlier run of the same date
committed (another run id), so a slice mixing both runs' rows would show; the kill comes the
moment the publish's first data file appears, and the test sees that file left uncommitted.
CI runs this kill point; `bin/crash-matrix` kills at every kill point."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from csmetrics.pipeline import run_daily
from csmetrics.tables import DERIVED_TABLES, PUBLISHED_TABLES, RUN_COMMITS
from tests.crash.harness import BY_NAME_POINT, gold_rows, inconsistencies, run_and_kill, uncommitted_files
from tests.integration.warehouses import Warehouse, same_rows

D = date(2026, 3, 2)
# The uninterrupted run is the date's scheduled run; the killed run is a manual re-run of it.
RUN_ID = f"manual__{D}"
quiet = lambda message: None  # noqa: E731


@pytest.fixture(scope="module")
def uninterrupted(spark, one_day):
    """The day's run never interrupted (tests/conftest.py; it has invalid records too: the
    quarantine must balance after a crash as well)."""
    root, _, settings = one_day
    return root, gold_rows(spark, settings)


@pytest.mark.parametrize("point", ["inside publish"])
def test_a_killed_run_leaves_consistent_tables_and_its_rerun_equals_an_uninterrupted_run(spark, uninterrupted, point):
    root, expected = uninterrupted
    warehouse = Warehouse(root / point.replace(" ", "_"), root / "landing")
    # The scheduled run of the date (another run id) has committed every table.
    shutil.copytree(root / "uninterrupted" / "warehouse", warehouse.root / "warehouse")
    with warehouse as settings:
        layer = Path(settings.warehouse) / BY_NAME_POINT[point].inside
        left_before = set(uncommitted_files(spark, layer))
        env = {**os.environ, "CSMETRICS_SHUFFLE_PARTITIONS": "2"}
        assert run_and_kill(BY_NAME_POINT[point], D, RUN_ID, env), f"the run ended before {point}"
        # The kill landed inside a write: data files that no commit references.
        assert set(uncommitted_files(spark, layer)) - left_before
        assert inconsistencies(spark, settings, after_rerun=False) == []
        # The commit record says the killed publish did not finish.
        assert [step for step, _ in recorded_commits(spark, settings, RUN_ID) if step == "publish"] == []
        run_daily(D, RUN_ID, progress=quiet)
        assert inconsistencies(spark, settings, after_rerun=True) == []
        rerun = gold_rows(spark, settings)
        assert recorded_commits(spark, settings, RUN_ID) == {("publish", t.name) for t in PUBLISHED_TABLES} | {
            ("derive", t.name) for t in DERIVED_TABLES
        }
    assert [t for t in expected if not same_rows(rerun[t], expected[t])] == []
    # Every table has rows but the benchmarks (3 shops are too few peers, CSMETRICS_MIN_PEERS)
    # and the alerts (one day is no history).
    assert all(rows for table, rows in expected.items() if not table.endswith("benchmarks_daily") and table != "metric_alerts_daily")


def recorded_commits(spark, settings, run_id: str) -> set[tuple[str, str]]:
    """(step, table) of the run's rows in quality/run_commits."""
    if not DeltaTable.isDeltaTable(spark, RUN_COMMITS.path(settings)):
        return set()
    rows = spark.read.format("delta").load(RUN_COMMITS.path(settings)).where(F.col("run_id") == run_id).collect()
    return {(r.step, r.table) for r in rows}
