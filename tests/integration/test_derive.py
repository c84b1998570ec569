"""Derive on a copy of a warehouse that holds one published day (tests/conftest.py `one_day`)."""

from __future__ import annotations

import shutil
from datetime import date

from csmetrics.derived.publish import derive, every_metric
from csmetrics.plan import RunPlan
from tests.integration.test_quality_gate import jobs_of
from tests.integration.warehouses import Warehouse

DAY = date(2026, 3, 2)
DERIVED = (
    "shop_metrics_weekly", "shop_metrics_monthly", "shop_metric_trends", "governance_weekly", "peer_benchmarks_daily",
    "scene_benchmarks_daily", "leaderboard_daily", "experience_score_daily", "metric_alerts_daily",
)
# Derive's Spark jobs for one day of three shops (bench/RESULTS.md, "Derive computes the facts
# its sources share once"): 82 here when the weekly, monthly and governance sources each rolled
# gold up again (83 in the script of that section); 72 before the experience score and the
# alerts, which add two MERGEs and their sources (115); their gate adds an aggregation each
# and the append of its results (120); the date of the latest run gold holds, read so that a
# re-run of an earlier date reads slices as final as the later runs made them, one more (121).
DERIVE_JOBS = 121


def rows(spark, settings, table):
    """Every row, sorted (not keyed: a duplicated row must show)."""
    return sorted(tuple(r) for r in spark.read.format("delta").load(settings.table_path("gold", table)).drop("run_id", "computed_at").collect())


def test_derive_again_changes_no_row_and_computes_what_its_sources_share_once(spark, one_day, tmp_path):
    _, landing, published = one_day
    shutil.copytree(published.warehouse, tmp_path / "warehouse")
    with Warehouse(tmp_path, landing) as settings:
        before = {table: rows(spark, settings, table) for table in DERIVED}
        written, jobs = jobs_of(spark, f"derive-{tmp_path.name}", lambda: derive(spark, settings, RunPlan(DAY).metrics_by_date(), "derive-again", DAY))
        # Dates with a gap, as a settled held-back day weeks back gives: the week and the month
        # between them (the ones with data) are not theirs, and stay as they are.
        gapped = derive(spark, settings, every_metric([date(2026, 1, 26), date(2026, 4, 6)]), "derive-gapped")
        after = {table: rows(spark, settings, table) for table in DERIVED}

    assert written == dict.fromkeys(DERIVED, 0) and gapped == dict.fromkeys(DERIVED, 0)
    assert after == before
    # Every table but the benchmarks has rows (three shops are too few peers), and the alerts
    # (one day is no history).
    assert all(after[table] for table in DERIVED if not table.endswith("benchmarks_daily") and table != "metric_alerts_daily")
    assert jobs <= DERIVE_JOBS, jobs
