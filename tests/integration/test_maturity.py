"""The maturity model on real Delta tables: convergence, idempotency, restatement, late records.

One generated landing zone, two warehouses:
  daily     the landing zone appears day by day; the daily run of each date runs as it does.
  backfill  everything has landed first; the same dates then run one after the other.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.commits import log_commits
from csmetrics.derived.publish import derive, every_metric
from csmetrics.explain import Measure, explain, explain_versions, session_pulls, session_sums, weightiest
from csmetrics.metrics.session_detail import drill_down_measures
from csmetrics.pipeline import backfill, compute_step, derive_step, ingest_step, publish_step, restate_range, run_daily, validate_step
from csmetrics.plan import RunPlan
from csmetrics_generate import GenerateOptions, generate
from tests.integration.landing_files import write_landing
from tests.integration.warehouses import Warehouse, expose, gold, same_rows

R1, R2 = date(2026, 3, 3), date(2026, 3, 5)
# The data starts 17 days before R2: the daily runs for R1 .. R2 make dates final for every
# window, 15 included (R2 - 15 has two days of orders and tickets behind it), and runs to
# R2 + 2 (late records and the next run).
START = R2 - timedelta(days=17)
DAYS = (R2 + timedelta(days=2) - START).days + 1
TABLES = ("shop_metrics_daily", "agent_metrics_daily", "session_detail_daily", "scene_metrics_daily")
DERIVED = (
    "shop_metrics_weekly", "shop_metrics_monthly", "shop_metric_trends", "governance_weekly", "peer_benchmarks_daily",
    "scene_benchmarks_daily", "leaderboard_daily", "experience_score_daily", "metric_alerts_daily",
)
quiet = lambda message: None  # noqa: E731


def dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@pytest.fixture(scope="module")
def five_shop_settings():
    """The module's settings, for its tests only (the modules after it see their own)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CSMETRICS_SHUFFLE_PARTITIONS", "2")
        # Five shops: let every shop with data be a peer, and every group have benchmarks, so benchmarks have rows.
        env.setenv("CSMETRICS_MIN_SUPPORT", "1")
        env.setenv("CSMETRICS_MIN_PEERS", "1")
        env.setenv("CSMETRICS_MIN_SCENE_RATINGS", "2")
        yield


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory, five_shop_settings):
    root = tmp_path_factory.mktemp("maturity")
    source = root / "generated"
    generate(GenerateOptions(str(source), shops=5, days=DAYS, start=START, seed=5), quiet)
    # So few shops close few tickets: make sure one closes inside the range (a window-0 metric).
    closed = datetime(R1.year, R1.month, R1.day, 12, tzinfo=UTC)
    write_landing(str(source), "after_sales", str(R1), [{
        "ticket_id": "t-fixture", "order_id": "o-fixture", "shop_id": "shop0", "buyer_id": "buyer-fixture",
        "kind": "refund_only", "created_at": closed - timedelta(days=2), "closed_at": closed,
        "merchant_wait_seconds": 600, "responsibility": "merchant", "updated_at": closed,
    }], name="part-fixture")
    # Another of R1's tickets lands after the cutoff of the run for R1 (R1 + 1 14:00), before
    # that of the run for R1 + 1: late for R1's final after-sale slices. A backfill day must
    # read as of its own cutoff, not its chunk's last.
    landed = datetime(R1.year, R1.month, R1.day, 20, tzinfo=UTC) + timedelta(days=1)
    write_landing(str(source), "after_sales", str(R1 + timedelta(days=1)), [{
        "ticket_id": "t-late-for-r1", "order_id": "o-late-for-r1", "shop_id": "shop0", "buyer_id": "buyer-fixture",
        "kind": "refund_only", "created_at": closed - timedelta(days=1), "closed_at": closed,
        "merchant_wait_seconds": 7200, "responsibility": "merchant", "updated_at": closed,
    }], name="part-late-for-r1", landed_at=landed)

    daily = Warehouse(root / "daily")
    with daily as settings:
        for day in dates(R1, R2):
            expose(source, daily.landing, day + timedelta(days=1))
            run_daily(day, f"daily__{day}", progress=quiet)
        daily_gold = {t: gold(spark, settings, t) for t in TABLES}

    backfill_warehouse = Warehouse(root / "backfill")
    with backfill_warehouse as settings:
        expose(source, backfill_warehouse.landing, date.max)
        # One chunk: its last day, the backfill's end, joins the pass of the two before it.
        backfill(R1, R2, chunk_days=3, progress=quiet)
        backfill_gold = {t: gold(spark, settings, t) for t in TABLES}
        backfill_derived = {t: derived(spark, settings, t) for t in DERIVED}
    with daily as settings:
        daily_derived = {t: derived(spark, settings, t) for t in DERIVED}
    return {"daily": daily, "backfill": backfill_warehouse, "source": source, "daily_gold": daily_gold,
            "backfill_gold": backfill_gold, "daily_derived": daily_derived, "backfill_derived": backfill_derived}


def derived(spark, settings, table):
    frame = spark.read.format("delta").load(settings.table_path("gold", table)).drop("run_id", "computed_at")
    return sorted(tuple(r) for r in frame.collect())


def is_final(row) -> bool:
    return "final" in row


def test_backfill_leaves_exactly_what_the_daily_runs_leave(runs):
    for table in TABLES:
        daily, backfilled = runs["daily_gold"][table], runs["backfill_gold"][table]
        assert daily.keys() == backfilled.keys(), table
        assert same_rows([daily[k] for k in sorted(daily)], [backfilled[k] for k in sorted(daily)]), table
    for table in DERIVED:
        # Derived tables aggregate doubles over differently partitioned inputs: a relative 1e-9.
        # Alerts need 14 days of history: five generated shops over 17 days may raise none.
        assert runs["daily_derived"][table] or table == "metric_alerts_daily", table
        assert same_rows(runs["daily_derived"][table], runs["backfill_derived"][table]), table
    # A steady generated platform: at most 1 % of its shop-days alert.
    shop_days = {k[:2] for k in runs["daily_gold"]["shop_metrics_daily"]}
    assert len({row[:2] for row in runs["daily_derived"]["metric_alerts_daily"]}) <= 0.01 * len(shop_days)
    final_metrics = {k[2] for k, v in runs["daily_gold"]["shop_metrics_daily"].items() if is_final(v)}
    # Final rows of every window, in both warehouses (the comparison above covers them all).
    assert {"dispute_merchant_rate", "pickup_rate", "satisfaction_rate", "fcr_3d", "cs_sales_amount", "resolution_rate_15d"} <= final_metrics
    assert {registry.BY_ID[m].window_days for m in final_metrics} == {0, 1, 3, 15}


def test_each_run_derives_only_what_its_slices_feed_and_leaves_what_deriving_everything_would(spark, runs, tmp_path):
    # Each daily run re-derived only what its (stat_date, metric) slices feed: no score on a
    # date where only resolution_rate_15d changed. Deriving every metric of every date again
    # must then find nothing to change.
    shutil.copytree(runs["daily"].root / "warehouse", tmp_path / "warehouse")
    with Warehouse(tmp_path, runs["daily"].landing) as settings:
        changed = derive(spark, settings, every_metric(dates(R1 - timedelta(days=15), R2)), "derive-everything", R2)
        assert changed == dict.fromkeys(DERIVED, 0)
        assert {t: derived(spark, settings, t) for t in DERIVED} == runs["daily_derived"]


def test_the_session_detail_sums_to_the_published_conversation_metrics(spark, runs):
    """The drill-down holds on generated data too: every shop-day's detail rows sum to its
    published count, numerator and denominator of each conversation metric."""
    with runs["daily"] as settings:
        detail = spark.read.format("delta").load(settings.table_path("gold", "session_detail_daily"))
        shop_rows = spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_daily"))
        measures = drill_down_measures()
        published = {
            (r.stat_date, r.shop_id, r.metric): (r.numerator, r.denominator, r.maturity)
            for r in shop_rows.where(F.col("metric").isin(list(measures)) & (F.col("segment") == "all")).collect()
        }
        maturity = {(r.stat_date, r.shop_id): r.maturity for r in detail.select("stat_date", "shop_id", "maturity").distinct().collect()}
        summed = {}
        for metric, (numerator, denominator) in measures.items():
            aggregates = [numerator.cast("double").alias("n"), (denominator if denominator is not None else F.lit(None)).cast("double").alias("d")]
            for r in detail.groupBy("stat_date", "shop_id").agg(*aggregates).collect():
                if r.d if denominator is not None else r.n:
                    summed[(r.stat_date, r.shop_id, metric)] = (r.n, r.d, maturity[(r.stat_date, r.shop_id)])
    assert len({k[:2] for k in summed}) >= 10
    # Counts agree exactly; sums of seconds add in another order (a relative 1e-9).
    assert summed.keys() == published.keys()
    assert same_rows([summed[k] for k in sorted(summed)], [published[k] for k in sorted(summed)])


def test_every_level_of_scenes_sums_to_the_published_shop_metrics(spark, runs):
    """The scene drill-down on generated data: at each level a shop-day's scenes add up to
    its published sessions, ratings and FCR sessions, with the same maturity."""
    with runs["daily"] as settings:
        scenes = spark.read.format("delta").load(settings.table_path("gold", "scene_metrics_daily"))
        shop_rows = spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_daily"))
        metrics = ["consult_sessions", "satisfaction_rate", "fcr_3d"]
        published = {
            (r.stat_date, r.shop_id, r.metric, r.segment): (r.numerator if r.metric == "consult_sessions" else r.denominator, r.maturity)
            for r in shop_rows.where(F.col("metric").isin(metrics)).collect()
        }
        summed = {
            (r.scene_level, r.stat_date, r.shop_id, r.metric, r.segment): (r.support, r.maturity)
            for r in scenes.where(F.col("metric").isin(metrics))
            .groupBy("scene_level", "stat_date", "shop_id", "metric", "segment")
            .agg(F.sum(F.when(F.col("metric") == "consult_sessions", F.col("numerator")).otherwise(F.col("denominator"))).alias("support"),
                 F.max("maturity").alias("maturity"))
            .collect()
        }
        levels = scenes.groupBy("scene_level").agg(F.countDistinct("scene").alias("scenes")).collect()
    assert sorted((r.scene_level, r.scenes > 1) for r in levels) == [(1, True), (2, True), (3, True)]
    shop_level = {k: v for k, v in published.items() if k[3] == "all" or k[2] == "satisfaction_rate"}
    for level in (1, 2, 3):
        at_level = {k[1:]: v for k, v in summed.items() if k[0] == level and k[1:] in shop_level}
        assert at_level == shop_level, level
    assert len(shop_level) >= 20


def test_the_trends_table_holds_every_day_and_week_with_its_change(spark, runs):
    """gold/shop_metric_trends after day-by-day runs: one row per daily and weekly row, each
    with the value of the period before it and the relative change."""
    with runs["daily"] as settings:
        trends = derived_by_key(spark, settings, "shop_metric_trends")
        periods = {
            "day": {(r.stat_date, r.shop_id, r.metric, r.segment): r.value for r in gold_frame(spark, settings, "shop_metrics_daily").collect()},
            "week": {(r.week_start, r.shop_id, r.metric, r.segment): r.value for r in gold_frame(spark, settings, "shop_metrics_weekly").collect()},
        }
    for grain, step in (("day", timedelta(days=1)), ("week", timedelta(days=7))):
        rows = {k[1:]: v for k, v in trends.items() if k[0] == grain}
        assert rows.keys() == periods[grain].keys(), grain
        for (start, *rest), r in rows.items():
            previous = periods[grain].get((start - step, *rest))
            assert (r.value, r.previous_value) == (periods[grain][(start, *rest)], previous), (grain, start, rest)
            assert r.change == (None if not previous else pytest.approx((r.value - previous) / previous))
    assert sum(1 for r in trends.values() if r.change is not None) >= 50


def gold_frame(spark, settings, table):
    return spark.read.format("delta").load(settings.table_path("gold", table))


def derived_by_key(spark, settings, table):
    from csmetrics.tables import BY_NAME

    keys = list(BY_NAME[table].keys)
    return {tuple(r[k] for k in keys): r for r in gold_frame(spark, settings, table).collect()}


def test_maturity_follows_each_metric_window(runs):
    rows = runs["daily_gold"]["shop_metrics_daily"]
    for (stat_date, _shop, metric, _segment), row in rows.items():
        window = registry.BY_ID[metric].window_days
        # After the run for R2, D is final exactly when D <= R2 - w.
        expected = "final" if stat_date <= R2 - timedelta(days=window) else "provisional"
        assert expected in row, (stat_date, metric, row)
    windows = {registry.BY_ID[k[2]].window_days for k in rows}
    assert {0, 1, 3, 15} <= windows
    # Window 15: the runs for R1 .. R2 made R1 - 15 .. R2 - 15 final; later dates are provisional.
    resolution = {k[0]: is_final(v) for k, v in rows.items() if k[2] == "resolution_rate_15d"}
    assert True in resolution.values() and False in resolution.values()


def as_python(value):
    """delta-rs gives timestamps with their zone (UTC), Spark without: compare them naive."""
    return value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) and value.tzinfo else value


# A consumer's process reading every gold table with Polars and saving what it read. Polars
# and deltalake's pyarrow reader in one process can abort at interpreter exit (pola-rs/polars
# #24169), so Polars reads in a process of its own, as a dashboard's would.
POLARS_READER = """
import os, sys, polars as pl
out, paths = sys.argv[1], sys.argv[2:]
for path in paths:
    pl.read_delta(path).write_parquet(f"{out}/{os.path.basename(path)}.parquet")
"""


def test_every_gold_table_reads_the_same_outside_spark_and_its_change_feed_shows_finalisations(spark, runs, tmp_path):
    """delta-rs (`deltalake`) and Polars read what Spark reads. DuckDB's delta extension is
    downloaded from extensions.duckdb.org at `INSTALL delta`, which this machine cannot reach:
    Polars stands in, as the issue allows (its Parquet reader is its own; the log is read
    through delta-rs)."""
    import deltalake
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = (*TABLES, *DERIVED)
    with runs["daily"] as settings:
        subprocess.run([sys.executable, "-c", POLARS_READER, str(tmp_path), *(settings.table_path("gold", t) for t in tables)], check=True)
        for table in tables:
            frame = spark.read.format("delta").load(settings.table_path("gold", table))
            by_spark = sorted(tuple(r) for r in frame.collect())
            arrow = deltalake.DeltaTable(settings.table_path("gold", table)).to_pyarrow_table().select(frame.columns)
            by_delta_rs = sorted(tuple(as_python(v) for v in row.values()) for row in arrow.to_pylist())
            # Every table has rows but the alerts: 17 days of five steady shops raise none.
            assert (by_spark or table == "metric_alerts_daily") and by_delta_rs == by_spark, table
            by_polars = pq.read_table(tmp_path / f"{table}.parquet").select(frame.columns).to_pylist()
            assert sorted(tuple(as_python(v) for v in row.values()) for row in by_polars) == by_spark, table
        # The run for R2 made R2 - 1's window-1 metrics final: its publish shows each such
        # row leaving as provisional and coming back as final.
        shop_metrics = deltalake.DeltaTable(settings.table_path("gold", "shop_metrics_daily"))
        last = shop_metrics.version()
        changes = pa.RecordBatchReader.from_stream(shop_metrics.load_cdf(starting_version=last, ending_version=last)).read_all().to_pylist()
    day = R2 - timedelta(days=1)
    finalised = [c for c in changes if c["stat_date"] == day and c["metric"] == "pickup_rate"]
    by_change = {kind: {(c["shop_id"], c["segment"], c["maturity"]) for c in finalised if c["_change_type"] == kind} for kind in ("delete", "insert")}
    assert by_change["insert"] and all(maturity == "final" for *_, maturity in by_change["insert"])
    assert by_change["delete"] == {(shop, segment, "provisional") for shop, segment, _ in by_change["insert"]}


def test_a_daily_run_replaces_its_slices_without_rewriting_other_metrics_rows(spark, runs):
    """The run for R2 replaced delayed metrics of earlier dates (R2 - 1, - 3, - 15) beside
    metrics already there: laid out by (stat_date, metric), no other slice's row was copied."""
    with runs["daily"] as settings:
        for table in ("shop_metrics_daily", "agent_metrics_daily", "scene_metrics_daily"):
            published = [c for c in log_commits(spark, settings.table_path("gold", table)) if c.user_metadata == f"daily__{R2}"]
            assert published and int(published[0].operation_metrics["numOutputRows"]) > 0, table
            assert [c.operation_metrics.get("numCopiedRows", "0") for c in published] == ["0"], table


def test_rerunning_a_date_changes_nothing(spark, runs):
    with runs["daily"] as settings:
        run_daily(R2, f"daily__{R2}__again", progress=quiet)
        assert {t: gold(spark, settings, t) for t in TABLES} == runs["daily_gold"]


EARLIER = R2 - timedelta(days=1)


@pytest.fixture(scope="module")
def rerun_of_an_earlier_date(spark, runs, tmp_path_factory):
    """Gold after the run for R2 - 1 ran again, after the run for R2 (on a copy: the tests
    after these expect the daily warehouse as the daily runs left it), and the run id of
    each shop_metrics_daily row before and after ("writers_before", "writers")."""
    root = tmp_path_factory.mktemp("rerun_earlier")
    shutil.copytree(runs["daily"].root / "warehouse", root / "warehouse")
    with Warehouse(root, runs["daily"].landing) as settings:
        writers_before = shop_metric_writers(spark, settings)
        run_daily(EARLIER, f"daily__{EARLIER}__again", progress=quiet)
        return {**{t: gold(spark, settings, t) for t in TABLES}, "writers_before": writers_before, "writers": shop_metric_writers(spark, settings)}


def shop_metric_writers(spark, settings) -> dict[tuple, str]:
    rows = spark.read.format("delta").load(settings.table_path("gold", "shop_metrics_daily")).collect()
    return {(r.stat_date, r.shop_id, r.metric, r.segment): r.run_id for r in rows}


def test_rerunning_an_earlier_date_leaves_final_rows_final(runs, rerun_of_an_earlier_date):
    # The run for R2 - 1 owns dates that the run for R2 has since made final (window 1 on
    # R2 - 1, window 3 on R2 - 3 ...): a re-run must neither demote nor rewrite them.
    after = rerun_of_an_earlier_date
    for table in TABLES:
        final_before = {k: v for k, v in runs["daily_gold"][table].items() if is_final(v)}
        assert final_before, table
        assert {k: after[table][k] for k in final_before} == final_before, table


def test_rerunning_an_earlier_date_leaves_the_later_runs_provisional_rows(runs, rerun_of_an_earlier_date):
    # The window-3 and window-15 slices of R2 - 1 and before are still provisional and owned
    # by both runs; the run for R2 wrote them from more landed records than the re-run's
    # earlier cutoff lets it see. Every other slice of the re-run is final already: it
    # changes no row of any table, and the run for R2 (or its re-run by an earlier test) is
    # still the writer of those slices.
    before = {k: v for k, v in runs["daily_gold"]["shop_metrics_daily"].items() if not is_final(v) and k[0] <= EARLIER}
    assert {k[2] for k in before} >= {"cs_sales_amount", "inquiry_pay_rate_final", "resolution_rate_15d"}, sorted({k[2] for k in before})
    writers_before = {rerun_of_an_earlier_date["writers_before"][k] for k in before}
    assert writers_before <= {f"daily__{R2}", f"daily__{R2}__again"}, writers_before
    assert {k: rerun_of_an_earlier_date["writers"][k] for k in before} == {k: rerun_of_an_earlier_date["writers_before"][k] for k in before}
    for table in TABLES:
        after = rerun_of_an_earlier_date[table]
        changed = sorted(k for k in runs["daily_gold"][table].keys() | after.keys() if runs["daily_gold"][table].get(k) != after.get(k))
        assert not changed, f"{table}: {len(changed)} rows changed, e.g. {changed[:3]}"


def test_late_record_changes_nothing_until_restated(spark, runs):
    daily = runs["daily"]
    with daily as settings:
        # A bot rating of a session of R1 (local date) arrives on R2 + 2, after R1's
        # satisfaction became final.
        shops = spark.read.format("delta").load(settings.table_path("bronze", "shops")).select("shop_id", "timezone")
        session = (
            spark.read.format("delta").load(settings.table_path("bronze", "sessions"))
            .join(shops, "shop_id")
            .where(~F.col("is_internal") & ~F.col("is_spam"))
            .where(F.to_date(F.from_utc_timestamp(F.col("started_at"), F.col("timezone"))) == F.lit(R1))
            .select("session_id", "shop_id", "buyer_id", F.unix_micros("started_at").alias("started_us"))
            .orderBy("session_id")
            .first()
        )
        started = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=session.started_us)
        late_dt = R2 + timedelta(days=2)
        # The generated files of the next days land first, and the next daily run reads them;
        # then a restatement of R1 gives the baseline, whatever they held for R1.
        expose(runs["source"], daily.landing, late_dt)
        ingest_step(R2 + timedelta(days=1), "daily__next", progress=quiet)
        restate_range(R1, R1, "restate__baseline", progress=quiet)
        baseline = gold(spark, settings, "shop_metrics_daily")
        # A verdict that moves the shop's satisfaction (and so its leaderboard row) whatever it was.
        satisfied = baseline.get((R1, session.shop_id, "satisfaction_rate", "all"))
        score = 1 if satisfied is None or satisfied[6] > 0 else 5
        write_landing(str(daily.landing), "ratings", str(late_dt), [{
            "rating_id": "late-1", "session_id": session.session_id, "shop_id": session.shop_id,
            "buyer_id": session.buyer_id, "target": "bot", "invited_at": started + timedelta(minutes=1),
            "rated_at": started + timedelta(minutes=2), "score": score, "tags": None,
        }], name="part-late", landed_at=datetime(late_dt.year, late_dt.month, late_dt.day, 9, tzinfo=UTC))
        summary = ingest_step(R2 + timedelta(days=1), "daily__late", progress=quiet)
        assert "late for final dates 1" in summary
        compute_step(R2 + timedelta(days=1), "daily__late", progress=quiet)
        validate_step(R2 + timedelta(days=1), "daily__late", progress=quiet)
        publish_step(R2 + timedelta(days=1), "daily__late", progress=quiet)
        derive_step(R2 + timedelta(days=1), "daily__late", progress=quiet)
        before = gold(spark, settings, "shop_metrics_daily")
        final_earlier = {k: v for k, v in baseline.items() if is_final(v) and k[0] <= R2 - timedelta(days=registry.BY_ID[k[2]].window_days)}
        assert {k: before[k] for k in final_earlier} == final_earlier, "a normal run must not rewrite final rows"
        path = settings.table_path("gold", "shop_metrics_daily")
        version_before = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").agg(F.max("version")).first()[0]
        feeds = {t: settings.table_path("gold", t) for t in ("peer_benchmarks_daily", "leaderboard_daily")}
        feed_versions = {t: DeltaTable.forPath(spark, p).history(1).first()["version"] for t, p in feeds.items()}

        restate_range(R1, R1, "restate__late", progress=quiet)
        changes = {
            t: spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", feed_versions[t] + 1).load(p).collect()
            for t, p in feeds.items()
        }
        after = gold(spark, settings, "shop_metrics_daily")
        # Delta time travel still shows the values before the restatement.
        assert gold(spark, settings, "shop_metrics_daily", version_before) == before
        explained = explain_versions(spark, settings, session.shop_id, "satisfaction_rate", R1, version_before)

    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    # Exactly the satisfaction rows of that shop and R1, in segments all, bot and the buyer's
    # pre-/after-sale segment; all still final.
    assert {(k[0], k[1]) for k in changed} == {(R1, session.shop_id)}
    assert {k[2] for k in changed} == {"satisfaction_rate", "very_satisfied_rate"}
    segments = {k[3] for k in changed}
    assert segments in ({"all", "bot", "presale"}, {"all", "bot", "aftersale"})
    assert all(is_final(after[k]) for k in changed)
    # `csmetrics explain --versus-version`: one more rating, the restatement's commit, and the
    # one record ingested since the row was computed.
    old, new = before[(R1, session.shop_id, "satisfaction_rate", "all")], after[(R1, session.shop_id, "satisfaction_rate", "all")]
    assert new[5] == old[5] + 1
    assert (explained.split.before, explained.split.after) == (old[6], new[6])
    assert explained.split.numerator_effect + explained.split.denominator_effect == pytest.approx(new[6] - old[6], abs=1e-12)
    assert [(c["change"], c["run_id"]) for c in explained.commits] == [("written", "restate__late")]
    assert explained.landed_between == {"ratings": 1}
    # The Change Data Feed of the derived tables holds only what the restatement changed:
    # benchmarks and leaderboard rows of R1 and the two satisfaction metrics.
    for table, rows in changes.items():
        assert rows, table
        assert {(r.stat_date, r.metric) for r in rows} <= {(R1, "satisfaction_rate"), (R1, "very_satisfied_rate")}, table
        assert {r._change_type for r in rows} <= {"update_preimage", "update_postimage", "insert", "delete"}


def test_explain_splits_every_change_of_a_generated_day_exactly(spark, runs):
    """On generated data, for every metric with a denominator: the numerator and denominator
    effects, the contributions of the scenes and of the agents, and the pulls of all the
    sessions of the day each sum to the change (to 1e-9)."""
    day = R2 - timedelta(days=1)
    with runs["daily"] as settings:
        daily = runs["daily_gold"]["shop_metrics_daily"]
        busiest = max({k[1] for k in daily}, key=lambda shop: sum(1 for k in daily if k[1] == shop and k[0] == day))
        explained = []
        for metric in (m for m in registry.METRICS if m.has_denominator):
            if (day, busiest, metric.id, "all") not in daily or (day - timedelta(days=1), busiest, metric.id, "all") not in daily:
                continue
            e = explain(spark, settings, busiest, metric.id, day)
            explained.append(metric.id)
            assert e.split.numerator_effect + e.split.denominator_effect == pytest.approx(e.split.change, abs=1e-9), metric.id
            for groups in (e.by_scene, e.by_agent):
                if groups:
                    assert sum(c.contribution for c in groups) == pytest.approx(e.split.change, abs=1e-9), metric.id
            if metric.id in drill_down_measures():
                after = Measure(daily[(day, busiest, metric.id, "all")][4], daily[(day, busiest, metric.id, "all")][5])
                pulls = session_pulls(session_sums(spark, settings, busiest, metric.id, day), e.split.before, after)
                assert sum(p.pull for p in pulls) == pytest.approx(e.split.change, abs=1e-9), metric.id
                assert e.by_scene and e.sessions == weightiest(pulls, e.split.change)
    # Conversation, satisfaction and delayed metrics: the day of a generated shop has them all.
    assert {"reply_3min_rate", "pickup_rate", "satisfaction_rate", "avg_response_seconds"} <= set(explained), explained


def test_the_shop_report_shows_gold_its_peers_and_the_failing_sessions(spark, runs, tmp_path):
    from csmetrics.report import CORE_METRICS, TITLES, formatted, write_report

    with runs["daily"] as settings:
        detail = spark.read.format("delta").load(settings.table_path("gold", "session_detail_daily")).where(F.col("stat_date") == F.lit(R2))
        shop = detail.groupBy("shop_id").count().orderBy(F.desc("count"), "shop_id").first()["shop_id"]
        page = write_report(spark, settings, shop, R2, tmp_path).read_text()
        daily = gold(spark, settings, "shop_metrics_daily")
        failing = detail.where((F.col("shop_id") == shop) & ((F.col("reply_3min_session") == 0) | F.col("unassigned_in_business_hours"))).count()
        weekly = {r.metric: r.status for r in spark.read.format("delta").load(settings.table_path("gold", "governance_weekly"))
                  .where((F.col("shop_id") == shop) & (F.col("week_start") == F.lit(R2 - timedelta(days=R2.weekday())))).collect()}
        scene_ratings = spark.read.format("delta").load(settings.table_path("gold", "scene_metrics_daily")).where(
            (F.col("shop_id") == shop) & (F.col("scene_level") == 3) & (F.col("metric") == "satisfaction_rate")
            & (F.col("segment") == "all") & (F.col("stat_date") <= F.lit(R2))
        ).collect()
        score = spark.read.format("delta").load(settings.table_path("gold", "experience_score_daily")).where(
            (F.col("shop_id") == shop) & (F.col("stat_date") == F.lit(R2)) & (F.col("indicator") == "score")
        ).first()
        alerts = spark.read.format("delta").load(settings.table_path("gold", "metric_alerts_daily")).where(
            (F.col("shop_id") == shop) & F.col("stat_date").between(F.lit(R2 - timedelta(days=6)), F.lit(R2))
        ).count()
    grid = page[page.index("<div class='grid'>"):page.index("<h2>Service experience score</h2>")]
    cards = {metric: grid[grid.index(f"data-metric='{metric}'"):].split("</div>\n<div class='card'")[0] for metric in CORE_METRICS}
    for metric, card in cards.items():
        row = daily.get((R2, shop, metric, "all"))
        # The value of the date and its maturity as gold has them (the tests before this one
        # may have run the next date, which made R2 final).
        if row is not None:
            value, maturity = row[6], row[7]
            assert maturity in ("provisional", "final")
            assert f"<span class='value'>{formatted(metric, value)}</span><span class='sub'> ({maturity})</span>" in card, metric
        assert f'<span class="{weekly[metric]}">' in card, metric
        (image,) = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", card)
        png = base64.b64decode(image)
        assert png.startswith(b"\x89PNG") and len(png) > 5000, metric
    assert sum(1 for metric in CORE_METRICS if daily.get((R2, shop, metric, "all"))) >= 3
    assert f"Sessions that failed the 3-minute rule on {R2}: {failing}</h2>" in page
    # The score card, the explanation of the governed metric that moved most, the alerts.
    card = page[page.index("<div class='card' id='experience-score'>"):].split("</table></div>")[0]
    assert score is not None
    if score.value is not None:
        assert f"<span class='value'>{score.value:.1f}</span><span class='sub'> / 100 ({score.maturity})</span>" in card
    else:
        assert score.reason in card
    assert len(re.findall(r"data:image/png;base64,", card)) == 1 and card.count("<tr><td>") == 5
    moved = {
        metric: abs(daily[(R2, shop, metric, "all")][6] - daily[(R2 - timedelta(days=1), shop, metric, "all")][6])
        / max(abs(daily[(R2 - timedelta(days=1), shop, metric, "all")][6]), 1e-9)
        for metric in CORE_METRICS if (R2, shop, metric, "all") in daily and (R2 - timedelta(days=1), shop, metric, "all") in daily
    }
    most = max(moved, key=moved.get)
    assert f"<p id='explanation'><b>{TITLES[most]}</b> went from" in page
    alert_rows = page[page.index("Open alerts, last 7 days"):page.index("Scenes with the lowest satisfaction")]
    assert alert_rows.count("<tr class=") == alerts and (alerts or "<p>None.</p>" in alert_rows)
    # The worst scene over the 30 days, summed here from gold's scene rows (at least 2 ratings in this fixture).
    totals: dict[str, list[float]] = {}
    for r in scene_ratings:
        totals.setdefault(r.scene, [0.0, 0.0])[0] += r.numerator
        totals[r.scene][1] += r.denominator
    totals = {scene: counts for scene, counts in totals.items() if counts[1] >= 2}
    worst_scene, (satisfied, ratings) = min(totals.items(), key=lambda kv: (round(kv[1][0] / kv[1][1], 9), kv[0]))
    worst_rows = page[page.index("<table id='worst-scenes'>"):].split("</table>")[0]
    assert f"<tr><td>1</td><td>{worst_scene}</td><td>{formatted('satisfaction_rate', satisfied / ratings)}" in worst_rows
    assert worst_rows.count("<tr><td>") >= min(10, len(totals))  # more when scenes tie at rank 10
    assert failing == 0 or page.count("<tr><td>") >= min(failing, 30)


def rows_with_run(spark, settings, table="shop_metrics_daily"):
    frame = spark.read.format("delta").load(settings.table_path("gold", table))
    return {(r.stat_date, r.shop_id, r.metric, r.segment): r for r in frame.collect()}


def test_restating_a_date_keeps_its_final_rows_final_and_recomputes_them(spark, runs):
    """SPEC §5: a restatement never turns a final row provisional. The run for R1, restated
    after the runs up to R2, owns slices those later runs made final (window 1 on R1, window 3
    on R1 - 2 and R1 - 1): they stay final, with values recomputed from every landed record."""
    with runs["daily"] as settings:
        before = rows_with_run(spark, settings)
        run_daily(R1, "restate__R1", restate=True, progress=quiet)
        after = rows_with_run(spark, settings)
        owned = RunPlan(R1).metrics_by_date()
        in_run = {k for k in before.keys() | after.keys() if k[2] in owned.get(k[0], ())}
        final_before = {k for k in in_run if k in before and before[k].maturity == "final"}
        later_made_final = {k for k in final_before if k[0] > R1 - timedelta(days=registry.BY_ID[k[2]].window_days)}
    assert len(later_made_final) >= 20 and {k[2] for k in later_made_final} >= {"pickup_rate", "fcr_3d"}
    assert sorted(k for k in final_before if k not in after or after[k].maturity != "final") == []
    # Recomputed: the restatement wrote them (their values from every landed record are
    # compared with a computation from scratch in the next test).
    assert {after[k].run_id for k in final_before if k in after} == {"restate__R1"}


def test_a_restatement_ingests_what_landed_since_the_last_run_and_equals_a_computation_from_scratch(spark, runs, tmp_path):
    """`csmetrics restate` recomputes final rows from all landed data, files that landed
    after the last run's cutoff included (ingested once, as a run does). Its final rows then
    equal those that a new warehouse computes from the same files: the restating backfill of
    the last run's date, whose final slices are one of every window."""
    daily = runs["daily"]
    with daily as settings:
        # The daily runs so far (the tests before this one ran more than R1 .. R2): the last
        # one is the latest date at which a slice became final.
        finals = [k for k, v in gold(spark, settings, "shop_metrics_daily").items() if is_final(v)]
        last_run = max(k[0] + timedelta(days=registry.BY_ID[k[2]].window_days) for k in finals)
        # A second rating, with the opposite verdict, of a session whose satisfaction the last
        # run made final (w = 1) lands after that run.
        shops = spark.read.format("delta").load(settings.table_path("bronze", "shops")).select("shop_id", "timezone")
        rated = (
            spark.read.format("delta").load(settings.table_path("bronze", "ratings")).join(shops, "shop_id")
            .where(F.to_date(F.from_utc_timestamp("invited_at", F.col("timezone"))) == F.lit(last_run - timedelta(days=1)))
            .orderBy("rating_id").first()
        )
        late_dt = last_run + timedelta(days=2)
        write_landing(str(daily.landing), "ratings", str(late_dt), [{
            "rating_id": "late-fix-1", "session_id": rated.session_id, "shop_id": rated.shop_id, "buyer_id": rated.buyer_id,
            "target": rated.target, "invited_at": rated.invited_at, "rated_at": rated.rated_at, "score": 1 if rated.score > 3 else 5,
            "tags": None,
        }], name="part-late-fix", landed_at=datetime(late_dt.year, late_dt.month, late_dt.day, 20, tzinfo=UTC))
        landed_files = {p.relative_to(daily.landing) for p in daily.landing.rglob("*.parquet")}
        before = gold(spark, settings, "shop_metrics_daily")
        restate_range(START, last_run, "restate__all", progress=quiet)
        logged = spark.read.format("delta").load(settings.table_path("bronze", "_ingest_log")).where("run_id = 'restate__all'").count()
        restated = {t: {k: v for k, v in gold(spark, settings, t).items() if is_final(v)} for t in TABLES}
    assert logged >= 1
    moved = before[(last_run - timedelta(days=1), rated.shop_id, "satisfaction_rate", "all")]
    assert restated["shop_metrics_daily"][(last_run - timedelta(days=1), rated.shop_id, "satisfaction_rate", "all")][5] == moved[5] + 1
    scratch = Warehouse(tmp_path / "scratch")
    with scratch as settings:
        for relative in landed_files:
            target = scratch.landing / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((daily.landing / relative).read_bytes())
            os.utime(target, ((daily.landing / relative).stat().st_atime, (daily.landing / relative).stat().st_mtime))
        backfill(last_run, last_run, restate=True, progress=quiet)
        from_scratch = {t: {k: v for k, v in gold(spark, settings, t).items() if is_final(v)} for t in TABLES}
    for table in TABLES:
        keys = sorted(from_scratch[table])
        assert keys and set(keys) <= restated[table].keys(), table
        assert same_rows([restated[table][k] for k in keys], [from_scratch[table][k] for k in keys]), table
    windows = {registry.BY_ID[k[2]].window_days for k in from_scratch["shop_metrics_daily"]}
    assert windows == {0, 1, 3, 15}
