"""The maturity model on real Delta tables: convergence, idempotency, restatement, late records.

One generated landing zone, two warehouses:
  daily     the landing zone appears day by day; the daily run of each date runs as it does.
  backfill  everything has landed first; the same dates then run one after the other.
"""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.config import Settings
from csmetrics.generate import GenerateOptions, generate
from csmetrics.ingest.run import ingest
from csmetrics.pipeline import compute_step, ingest_step, publish_step, restate_range, run_daily, validate_step
from csmetrics.spark import get_spark
from tests.integration.landing_files import write_landing

START, DAYS = date(2026, 3, 2), 5
R1, R2 = date(2026, 3, 3), date(2026, 3, 5)
TABLES = ("shop_metrics_daily", "agent_metrics_daily")
quiet = lambda message: None  # noqa: E731


def dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def expose(source: Path, landing: Path, up_to: date) -> None:
    """Make the arrival partitions dt <= up_to of every table visible in `landing`."""
    for folder in source.glob("*/dt=*"):
        if date.fromisoformat(folder.name[3:]) <= up_to:
            target = landing / folder.parent.name / folder.name
            if not target.exists():
                shutil.copytree(folder, target)


class Warehouse:
    """Points the pipeline (which reads its settings from the environment) at one warehouse."""

    def __init__(self, root: Path):
        self.root = root
        self.landing = root / "landing"
        self.landing.mkdir(parents=True)

    def __enter__(self) -> Settings:
        self._saved = {k: os.environ.get(k) for k in ("CSMETRICS_WAREHOUSE", "CSMETRICS_LANDING")}
        os.environ.update(CSMETRICS_WAREHOUSE=str(self.root / "warehouse"), CSMETRICS_LANDING=str(self.landing))
        return Settings.from_env()

    def __exit__(self, *exc):
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def gold(spark, settings, table, version=None):
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    frame = reader.load(settings.table_path("gold", table)).drop("run_id", "computed_at")
    keys = [k for k in ("stat_date", "shop_id", "agent_id", "metric", "segment") if k in frame.columns]
    return {tuple(r[k] for k in keys): tuple(r) for r in frame.collect()}


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    os.environ["CSMETRICS_SHUFFLE_PARTITIONS"] = "2"
    root = tmp_path_factory.mktemp("maturity")
    source = root / "generated"
    generate(GenerateOptions(str(source), shops=5, days=DAYS, start=START, seed=5), quiet)
    # So few shops close few tickets: make sure one closes inside the range (a window-0 metric).
    closed = datetime(R1.year, R1.month, R1.day, 12, tzinfo=timezone.utc)
    write_landing(str(source), "after_sales", str(R1), [{
        "ticket_id": "t-fixture", "order_id": "o-fixture", "shop_id": "shop0", "buyer_id": "buyer-fixture",
        "kind": "refund_only", "created_at": closed - timedelta(days=2), "closed_at": closed,
        "merchant_wait_seconds": 600, "responsibility": "merchant", "updated_at": closed,
    }], name="part-fixture")

    daily = Warehouse(root / "daily")
    with daily as settings:
        for day in dates(R1, R2):
            expose(source, daily.landing, day + timedelta(days=1))
            run_daily(day, f"daily__{day}", progress=quiet)
        daily_gold = {t: gold(spark, settings, t) for t in TABLES}

    backfill = Warehouse(root / "backfill")
    with backfill as settings:
        expose(source, backfill.landing, date.max)
        ingest(get_spark(settings), settings, START + timedelta(days=DAYS + 1), "backfill-ingest", quiet)
        for day in dates(R1, R2):
            compute_step(day, f"backfill__{day}", progress=quiet)
            validate_step(day, f"backfill__{day}", progress=quiet)
            publish_step(day, f"backfill__{day}", progress=quiet)
        backfill_gold = {t: gold(spark, settings, t) for t in TABLES}
    return {"daily": daily, "backfill": backfill, "source": source, "daily_gold": daily_gold, "backfill_gold": backfill_gold}


def is_final(row) -> bool:
    return "final" in row


def test_daily_runs_and_backfill_give_identical_final_rows(runs):
    for table in TABLES:
        daily = {k: v for k, v in runs["daily_gold"][table].items() if is_final(v)}
        backfill = {k: v for k, v in runs["backfill_gold"][table].items() if is_final(v)}
        assert daily == backfill, table
    final_metrics = {k[2] for k, v in runs["daily_gold"]["shop_metrics_daily"].items() if is_final(v)}
    # Final rows exist for windows 0, 1 and 3 (R2 - R1 = 2 days: nothing of window 15 yet).
    assert {"dispute_merchant_rate", "pickup_rate", "satisfaction_rate", "consult_sessions"} <= final_metrics


def test_maturity_follows_each_metric_window(runs):
    rows = runs["daily_gold"]["shop_metrics_daily"]
    for (stat_date, _shop, metric, _segment), row in rows.items():
        window = registry.BY_ID[metric].window_days
        # After the run for R2, D is final exactly when D <= R2 - w.
        expected = "final" if stat_date <= R2 - timedelta(days=window) else "provisional"
        assert expected in row, (stat_date, metric, row)
    windows = {registry.BY_ID[k[2]].window_days for k in rows}
    assert {0, 1, 3, 15} <= windows
    # Window 15: the run for R2 wrote resolution rows back to R2 - 15 (before the data starts, so
    # only dates with contacts have rows), all provisional.
    assert all("provisional" in v for k, v in rows.items() if k[2] == "resolution_rate_15d")


def test_rerunning_a_date_changes_nothing(spark, runs):
    with runs["daily"] as settings:
        run_daily(R2, f"daily__{R2}__again", progress=quiet)
        assert {t: gold(spark, settings, t) for t in TABLES} == runs["daily_gold"]


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
        started = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=session.started_us)
        late_dt = R2 + timedelta(days=2)
        write_landing(str(daily.landing), "ratings", str(late_dt), [{
            "rating_id": "late-1", "session_id": session.session_id, "shop_id": session.shop_id,
            "buyer_id": session.buyer_id, "target": "bot", "invited_at": started + timedelta(minutes=1),
            "rated_at": started + timedelta(minutes=2), "score": 1, "tags": None,
        }], name="part-late")
        expose(runs["source"], daily.landing, late_dt)
        summary = ingest_step(R2 + timedelta(days=1), "daily__late", progress=quiet)
        assert "late for final dates 1" in summary
        compute_step(R2 + timedelta(days=1), "daily__late", progress=quiet)
        validate_step(R2 + timedelta(days=1), "daily__late", progress=quiet)
        publish_step(R2 + timedelta(days=1), "daily__late", progress=quiet)
        before = gold(spark, settings, "shop_metrics_daily")
        final_earlier = {k: v for k, v in runs["daily_gold"]["shop_metrics_daily"].items() if is_final(v)}
        assert {k: before[k] for k in final_earlier} == final_earlier, "a normal run must not rewrite final rows"
        path = settings.table_path("gold", "shop_metrics_daily")
        version_before = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").agg(F.max("version")).first()[0]

        restate_range(R1, R1, "restate__late", progress=quiet)
        after = gold(spark, settings, "shop_metrics_daily")
        # Delta time travel still shows the values before the restatement.
        assert gold(spark, settings, "shop_metrics_daily", version_before) == before

    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    # Exactly the satisfaction rows of that shop and R1, in segments all, bot and the buyer's
    # pre-/after-sale segment; all still final.
    assert {(k[0], k[1]) for k in changed} == {(R1, session.shop_id)}
    assert {k[2] for k in changed} == {"satisfaction_rate", "very_satisfied_rate"}
    segments = {k[3] for k in changed}
    assert segments in ({"all", "bot", "presale"}, {"all", "bot", "aftersale"})
    assert all(is_final(after[k]) for k in changed)
