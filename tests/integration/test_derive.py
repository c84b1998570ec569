"""Derive on a copy of a warehouse that holds one published day (tests/conftest.py `one_day`)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

from delta.tables import DeltaTable
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.commits import newest_commit
from csmetrics.derived.experience import DEFAULT_INDICATORS, parse_indicators
from csmetrics.derived.publish import derive, every_metric
from csmetrics.plan import RunPlan, slices_predicate
from csmetrics.tables import RUN_COMMITS, SHOP_METRICS_DAILY
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
# re-run of an earlier date reads slices as final as the later runs made them, one more (121);
# each MERGE fed its difference against the slice, which rewrites only the files holding a
# changed row, adds that difference's join (138); a difference found empty, as every one is
# here, ends its MERGE before Delta scans, writes or commits (108).
DERIVE_JOBS = 108


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


# A week whose Sunday has no row of any window-0 or window-1 metric (no ticket closed, no
# conversation metric): only the run dates say that those slices are final through it.
SATURDAY, SUNDAY, MONDAY = date(2026, 3, 14), date(2026, 3, 15), date(2026, 3, 16)
QUIET_WINDOWS = {0, 1}


def publish_as_the_run_for(spark, settings, template, run_date):
    """What the run for `run_date` leaves in gold/shop_metrics_daily: the template's rows on
    every (stat_date, metric) slice of its plan, final through run_date - the metric's window,
    none of the quiet windows on SUNDAY."""
    plan = RunPlan(run_date).metrics_by_date()
    rows = [
        {**row, "stat_date": day, "maturity": "final" if day <= run_date - timedelta(days=registry.BY_ID[row["metric"]].window_days) else "provisional"}
        for day, metrics in plan.items()
        for row in template
        if row["metric"] in metrics and not (day == SUNDAY and registry.BY_ID[row["metric"]].window_days in QUIET_WINDOWS)
    ]
    path = settings.table_path("gold", "shop_metrics_daily")
    DeltaTable.forPath(spark, path).delete(slices_predicate(plan))
    spark.createDataFrame(rows, SHOP_METRICS_DAILY.schema).write.format("delta").mode("append").save(path)
    return plan


def test_a_quiet_sunday_ends_its_week_and_its_score_final_and_a_rerun_keeps_them(spark, one_day, tmp_path):
    # The daily runs for Saturday, Sunday and Monday, each deriving only its own slices, then
    # the run for Sunday again. No row says that Sunday's window-0 and window-1 slices are final:
    # only the run dates do (SPEC §4). What the runs leave must be what deriving every metric
    # of every date leaves.
    _, landing, published = one_day
    shutil.copytree(published.warehouse, tmp_path / "warehouse")
    # Only the template of the rows stays: the derived tables and the held-back shop-days of DAY go.
    for table in (*(f"gold/{table}" for table in DERIVED), "quality/unfinished"):
        shutil.rmtree(tmp_path / "warehouse" / table)
    with Warehouse(tmp_path, landing) as settings:
        daily = spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_daily"))
        template = [row.asDict() for row in daily.where(F.col("stat_date") == DAY).collect()]
        # The generated shops closed no ticket that day: give each a window-0 row, an indicator's.
        assert not [row for row in template if row["metric"] == "dispute_merchant_rate"]
        template += [{**row, "metric": "dispute_merchant_rate"} for row in template if row["metric"] == "reply_3min_rate" and row["segment"] == "all"]
        DeltaTable.forPath(spark, settings.table_path("gold", "shop_metrics_daily")).delete()
        for run_date in (SATURDAY, SUNDAY, MONDAY):
            derive(spark, settings, publish_as_the_run_for(spark, settings, template, run_date), f"run-{run_date}", run_date)
        # The run for Sunday again, under its run id (a retry): publish leaves final rows
        # final, so gold does not change, and the run's commit record is the tables' versions
        # now, not its own earlier commits, which Monday's run changed since.
        rerun = derive(spark, settings, RunPlan(SUNDAY).metrics_by_date(), f"run-{SUNDAY}", SUNDAY)
        recorded = {(r.table, r.version) for r in spark.read.format("delta").load(RUN_COMMITS.path(settings))
                    .where((F.col("run_id") == f"run-{SUNDAY}") & (F.col("step") == "derive")).collect()}
        newest = {(table, newest_commit(spark, settings.table_path("gold", table)).version) for table, _ in recorded}

        week = {(r.metric, r.maturity) for r in spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_weekly"))
                .where(F.col("week_start") == SUNDAY - timedelta(days=6)).collect()}
        scores = {(r.stat_date, r.indicator, r.maturity) for r in spark.read.format("delta").load(settings.table_path("gold", "experience_score_daily"))
                  .where(F.col("stat_date") >= SATURDAY).collect()}
        ran = {table: rows(spark, settings, table) for table in DERIVED}
        published = set().union(*(RunPlan(day).metrics_by_date() for day in (SATURDAY, SUNDAY, MONDAY)))
        everything = derive(spark, settings, every_metric(published), "derive-everything", MONDAY)

    # The week ends on Sunday: final for the windows the run for Monday makes final through it.
    assert week == {(m, "final" if registry.BY_ID[m].window_days <= 1 else "provisional") for m, _ in week}
    assert {registry.BY_ID[m].window_days for m, _ in week} == {0, 1, 3, 15}
    # An indicator's row is final through Monday less its window, the score once all its
    # indicators' are: Sunday's too, which has no indicator row at all.
    score_window = max(registry.BY_ID[i.metric].window_days for i in parse_indicators(DEFAULT_INDICATORS))
    window = lambda indicator: score_window if indicator == "score" else registry.BY_ID[indicator].window_days  # noqa: E731
    assert scores == {(day, indicator, "final" if day <= MONDAY - timedelta(days=window(indicator)) else "provisional") for day, indicator, _ in scores}
    assert {(day, indicator) for day, indicator, _ in scores} >= {(day, "score") for day in (SATURDAY, SUNDAY, MONDAY)}
    assert rerun == dict.fromkeys(DERIVED, 0) and everything == dict.fromkeys(DERIVED, 0)
    assert recorded == newest and {table for table, _ in recorded} >= {"shop_metrics_weekly", "experience_score_daily", "shop_metric_trends"}
    assert {table: rows(spark, settings, table) for table in DERIVED} == ran
