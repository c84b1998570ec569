"""What a run's publish leaves as gold holds it: the final slices it owns, and the provisional
ones a run with a later cutoff wrote (csmetrics.finality.slices_left_alone)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from pyspark.sql import functions as F

from csmetrics.commits import record_commits
from csmetrics.finality import slices_left_alone
from csmetrics.plan import RunPlan
from csmetrics.schedule import cutoff
from csmetrics.tables import RUN_COMMITS, SHOP_METRICS_DAILY

R = date(2026, 3, 4)


def day(n: int) -> date:
    return date(2026, 3, n)


def write_gold(spark, settings, rows: list[tuple[date, str, str, str, str]]) -> None:
    """(stat_date, shop_id, metric, maturity, run_id) rows of shop_metrics_daily."""
    computed = datetime(2026, 12, 7, tzinfo=UTC)
    full = [(d, shop, metric, "all", 1.0, 2.0, 0.5, maturity, computed, "v1", run, computed) for d, shop, metric, maturity, run in rows]
    SHOP_METRICS_DAILY.ensure(spark, settings)
    spark.createDataFrame(full, SHOP_METRICS_DAILY.schema).write.format("delta").mode("append").save(SHOP_METRICS_DAILY.path(settings))


def record_publish(spark, settings, run_id: str, landed_by: datetime | None) -> None:
    record_commits(spark, settings, run_id, "publish", [SHOP_METRICS_DAILY], landed_by=landed_by)


def test_a_run_leaves_final_slices_and_the_provisional_ones_a_later_cutoff_wrote(spark, settings):
    write_gold(spark, settings, [
        # Written by the run for R + 1: its cutoff is later than this run's.
        (day(3), "s1", "cs_sales_amount", "provisional", "run-r+1"),
        (day(3), "s1", "reply_rate", "final", "run-r+1"),
        # A slice this run makes final: its row is written whoever wrote the provisional one
        # (no daily run with a later cutoff does; a guard).
        (day(1), "s1", "cs_sales_amount", "provisional", "run-r+1"),
        # Written by the run for R itself (the same cutoff: a re-run replaces it), and by R - 1.
        (day(4), "s1", "cs_sales_amount", "provisional", "run-r"),
        (day(2), "s1", "cs_sales_amount", "provisional", "run-r-1"),
        # Two writers in one slice (a shop the later run held back): the later one keeps it.
        (day(3), "s1", "inquiry_pay_rate_final", "provisional", "run-r-1"),
        (day(3), "s2", "inquiry_pay_rate_final", "provisional", "run-r+1"),
        # Written by the run for R + 12, a window-15 slice still provisional then.
        (day(2), "s1", "resolution_rate_15d", "provisional", "run-r+12"),
        # A restatement records no cutoff, nor did a run of an older csmetrics: not known to be later.
        (day(4), "s1", "consult_sessions", "provisional", "restatement"),
        (day(3), "s1", "fcr_3d", "provisional", "older-run"),
        # Not a slice of the run for R (a window-0 metric of R - 2).
        (day(2), "s1", "complaint_rate_14d", "final", "run-r+1"),
    ])
    record_publish(spark, settings, "run-r-1", cutoff(day(3)))
    record_publish(spark, settings, "run-r", cutoff(R))
    record_publish(spark, settings, "run-r+1", cutoff(day(5)))
    record_publish(spark, settings, "run-r+12", cutoff(day(16)))
    record_publish(spark, settings, "restatement", None)
    record_publish(spark, settings, "older-run", None)

    final, seen_later = slices_left_alone(spark, settings, RunPlan(R))

    assert final == {(day(3), "reply_rate")}
    assert seen_later == {(day(3), "cs_sales_amount"), (day(3), "inquiry_pay_rate_final"), (day(2), "resolution_rate_15d")}
    # A restatement reads everything landed: it rewrites its slices, its final ones kept final.
    restating = RunPlan(R, restate=True, kept_final=frozenset({(day(3), "reply_rate")}))
    assert slices_left_alone(spark, settings, restating) == ({(day(3), "reply_rate")}, set())


def test_a_run_record_of_an_older_csmetrics_gains_the_landing_time(spark, settings):
    path = RUN_COMMITS.path(settings)
    spark.sql(f"CREATE TABLE delta.`{path}` (run_id string NOT NULL, step string NOT NULL, `table` string NOT NULL, "
              "version bigint NOT NULL, recorded_at timestamp NOT NULL) USING DELTA")
    spark.sql(f"INSERT INTO delta.`{path}` VALUES ('run-r+1', 'publish', 'shop_metrics_daily', 1, TIMESTAMP'2026-03-06 14:00:00')")
    write_gold(spark, settings, [(day(3), "s1", "cs_sales_amount", "provisional", "run-r+1")])
    # No publish recorded how far it read: none is known to be later.
    assert slices_left_alone(spark, settings, RunPlan(R)) == (set(), set())

    record_publish(spark, settings, "run-r+2", cutoff(day(6)))

    # As seconds since the epoch: Python gets timestamps as naive datetimes in its own zone.
    rows = spark.read.format("delta").load(path).select("run_id", F.unix_timestamp("landed_by").alias("landed_by")).collect()
    recorded = {r.run_id: r.landed_by for r in rows}
    assert recorded == {"run-r+1": None, "run-r+2": datetime(2026, 3, 7, 14, tzinfo=UTC).timestamp()}
    # The later publish is now known: the run for R leaves its provisional slice.
    write_gold(spark, settings, [(day(3), "s2", "cs_sales_amount", "provisional", "run-r+2")])
    assert slices_left_alone(spark, settings, RunPlan(R)) == (set(), {(day(3), "cs_sales_amount")})
