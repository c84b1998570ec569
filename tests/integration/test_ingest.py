"""Landing -> bronze: versions, duplicates, quarantine reasons, the landed-count invariant, the failure rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from csmetrics.bronze import bronze_path, read_bronze
from csmetrics.commits import log_commits
from csmetrics.ingest.landing import landed_files, read_files
from csmetrics.ingest.run import InvalidInputError, ingest
from csmetrics.schedule import cutoff
from csmetrics.schemas.raw import RAW_TABLES
from csmetrics.spark import session_setting
from tests.integration.landing_files import land, write_landing

UTC = UTC
CUTOFF_MARCH_2 = cutoff(date(2026, 3, 2))


def at(hour: int, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def order(order_id, updated, paid=None, amount="10.00", created=None, shop="s1", buyer="b1"):
    return dict(order_id=order_id, shop_id=shop, buyer_id=buyer, created_at=created or at(1), paid_at=paid,
                amount=Decimal(amount), item_count=1, updated_at=updated)


def rating(rating_id, score=5, invited=None, rated=None, target="human", shop="s1"):
    return dict(rating_id=rating_id, session_id="x", shop_id=shop, buyer_id="b1", target=target,
                invited_at=invited or at(3), rated_at=rated or at(4), score=score, tags=None)


@pytest.fixture
def landing(settings):
    write_landing(settings.landing, "shops", "2026-03-02", [
        dict(shop_id="s1", shop_name="One", platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai", opened_date=date(2025, 1, 1)),
    ])
    return settings.landing


def quarantine(spark, settings):
    return spark.read.format("delta").load(settings.table_path("quarantine", "records"))


def test_newer_updated_at_wins_and_exact_resends_are_dropped(spark, settings, landing):
    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1)), order("o2", at(1))])
    # o1 re-sent a day later with payment and a newer updated_at; o2 re-sent unchanged.
    write_landing(landing, "orders", "2026-03-03", [order("o1", at(5, 3), paid=at(5, 3)), order("o2", at(1))])
    report = ingest(spark, replace(settings, max_invalid_share=1.0), "r1", landed_by=CUTOFF_MARCH_2)

    orders = report.tables["orders"]
    assert (orders.landed, orders.inserted, orders.duplicates, orders.quarantined) == (4, 3, 1, 0)
    current = {r.order_id: r.paid_at for r in read_bronze(spark, settings, "orders").collect()}
    assert current == {"o1": datetime(2026, 3, 3, 5), "o2": None}
    # As the files had landed by the end of March 2, o1 is still unpaid.
    as_of = read_bronze(spark, settings, "orders", cutoff=at(0, 3)).where("order_id = 'o1'").first()
    assert as_of.paid_at is None


def test_too_many_invalid_records_fail_the_run_and_say_why(spark, settings, landing):
    write_landing(landing, "ratings", "2026-03-02", [rating(f"r{i}") for i in range(97)] + [rating(f"bad{i}", score=9) for i in range(3)])
    with pytest.raises(InvalidInputError) as failure:
        ingest(spark, settings, "r1", landed_by=CUTOFF_MARCH_2)
    message = str(failure.value)
    assert "ratings: 3 of 100 records invalid (3.0%)" in message
    assert "out_of_range:score (3)" in message
    # Nothing reached bronze, and the partitions will be read again by the next attempt.
    assert not (settings.warehouse and __import__("os").path.exists(settings.table_path("bronze", "ratings")))
    assert quarantine(spark, settings).where("table = 'ratings'").count() == 3


def test_every_tables_quarantined_records_are_written_in_one_commit_and_a_retry_replaces_them(spark, settings, landing):
    write_landing(landing, "ratings", "2026-03-02", [rating("r1"), rating("bad1", score=9), rating("bad2", score=0)])
    write_landing(landing, "orders", "2026-03-01", [order("bad3", at(1), amount="-1.00")])
    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1))])
    # Too many invalid records: the run stops once the quarantine holds them, and its retry
    # (told to accept them) reads the same files again.
    with pytest.raises(InvalidInputError):
        ingest(spark, settings, "r1", landed_by=CUTOFF_MARCH_2)
    report = ingest(spark, replace(settings, max_invalid_share=1.0), "r1", landed_by=CUTOFF_MARCH_2)

    assert (report.tables["ratings"].quarantined, report.tables["orders"].quarantined) == (2, 1)
    rows = quarantine(spark, settings).select("table", "arrival_dt", "reason", "run_id").collect()
    assert sorted(tuple(r) for r in rows) == [
        ("orders", date(2026, 3, 1), "out_of_range:amount", "r1"),
        ("ratings", date(2026, 3, 2), "out_of_range:score", "r1"),
        ("ratings", date(2026, 3, 2), "out_of_range:score", "r1"),
    ]
    path = settings.table_path("quarantine", "records")
    writes = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").where("operation = 'WRITE'").collect()
    assert [w.userMetadata for w in writes] == ["r1", "r1"]  # one commit an attempt, every table's rows


def test_a_quarantine_short_of_one_tables_records_stops_the_run_naming_that_table(spark, settings):
    from csmetrics.ingest import run as ingest_run
    from csmetrics.ingest.landing import LandedFile
    from csmetrics.schemas.gold import QUARANTINE

    day, now = date(2026, 3, 2), datetime(2026, 3, 2, 12)
    path = settings.table_path("quarantine", "records")
    spark.createDataFrame(
        [("ratings", day, "file:/r.parquet", "out_of_range:score", "{}", "r1", now)] * 2, QUARANTINE
    ).write.format("delta").save(path)
    files = {name: [LandedFile(name, day, f"/{name[0]}.parquet", f"file:/{name[0]}.parquet", now)] for name in ("ratings", "orders")}
    pending = {name: ingest_run._NewFiles(files[name], None, None) for name in files}
    report = ingest_run.IngestReport("r1", {name: ingest_run.TableReport(name, files[name]) for name in files})
    report.tables["ratings"].quarantined = 2
    ingest_run._check_quarantine_written(spark, settings, report, pending)

    report.tables["orders"].quarantined = 1
    with pytest.raises(ingest_run.AccountingError, match="orders.*1 records were quarantined, the quarantine table holds 0"):
        ingest_run._check_quarantine_written(spark, settings, report, pending)


def ingested(report, table) -> list[str]:
    return sorted(f.uri.rsplit("/", 2)[-2] + "/" + f.uri.rsplit("/", 1)[-1] for f in report.tables[table].files) if table in report.tables else []


def test_a_file_landing_in_a_partition_already_read_is_ingested_by_the_next_run(spark, settings, landing):
    """The run for March 2 reads at March 3 14:00 UTC, while dt=2026-03-03 is still open."""
    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1))], name="a", landed_at=at(20))
    write_landing(landing, "orders", "2026-03-03", [order("o2", at(3))], name="b", landed_at=at(6, 3))
    # Lands after the run for March 2 read (14:00), into the same open partition.
    late = write_landing(landing, "orders", "2026-03-03", [order("o3", at(3)), order("o2", at(3))], name="c", landed_at=at(0))
    land(late, at(18, 3))
    # Lands after the cutoff of the run for March 3: not for that run, even if it runs later.
    write_landing(landing, "orders", "2026-03-04", [order("o4", at(1, 4), created=at(1, 4))], name="d", landed_at=at(16, 4))

    first = ingest(spark, settings, "r-0302", landed_by=CUTOFF_MARCH_2)
    again = ingest(spark, settings, "r-0302-again", landed_by=CUTOFF_MARCH_2)
    second = ingest(spark, settings, "r-0303", landed_by=cutoff(date(2026, 3, 3)))
    assert ingested(first, "orders") == ["dt=2026-03-02/a.parquet", "dt=2026-03-03/b.parquet"]
    assert ingested(again, "orders") == []
    assert ingested(second, "orders") == ["dt=2026-03-03/c.parquet"]
    # landed = bronze + quarantine + duplicates, file by file: c re-sends o2 exactly.
    assert (second.tables["orders"].landed, second.tables["orders"].inserted, second.tables["orders"].duplicates) == (2, 1, 1)

    def seen(run_date):
        rows = read_bronze(spark, settings, "orders", cutoff=cutoff(run_date)).select("order_id").collect()
        return sorted(r.order_id for r in rows)

    # What each run sees is fixed by landing times, whichever run ingested the file.
    assert seen(date(2026, 3, 2)) == ["o1", "o2"]
    assert seen(date(2026, 3, 3)) == ["o1", "o2", "o3"]
    everything = ingest(spark, settings, "r-all", landed_by=None)
    assert ingested(everything, "orders") == ["dt=2026-03-04/d.parquet"]
    assert seen(date(2026, 3, 3)) == ["o1", "o2", "o3"]


def test_a_daily_run_lists_its_lookback_and_a_file_landed_in_an_older_partition_waits_for_sunday(spark, settings, landing, monkeypatch):
    """Writers land a file in the partition of the UTC day it arrives: a daily run lists the
    partitions of its cutoff's date and the 7 days before it (CSMETRICS_LANDING_LOOKBACK_DAYS).
    A file landed in an older partition waits for the run for the next Sunday, which lists
    them all; so does a backfill's prepare step. A new warehouse's first run lists them all."""
    from csmetrics.pipeline import backfill_prepare_step, ingest_step
    from csmetrics.schedule import first_partition_listed

    monkeypatch.setenv("CSMETRICS_ON_EMPTY_DAY", "warn")  # orders only: no sessions or messages
    assert first_partition_listed(date(2026, 3, 3), 7) == date(2026, 2, 25)  # a Tuesday: cutoff March 4, 14:00
    assert first_partition_listed(date(2026, 3, 8), 7) is None  # a Sunday
    assert first_partition_listed(date(2026, 3, 3), 0) is None
    february = lambda day, hour=12: datetime(2026, 2, day, hour, tzinfo=UTC)  # noqa: E731
    write_landing(landing, "orders", "2026-02-10", [order("o-feb", february(10, 1), created=february(10, 1))], name="feb")
    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1))], name="a")
    said = []
    ingest_step(date(2026, 3, 2), "daily__0302", progress=said.append)
    assert any("listing every arrival partition" in line for line in said)

    # Land at March 3, 18:00: one in the partition of that day, two in partitions long read.
    for dt, name in (("2026-03-03", "b"), ("2026-02-20", "late"), ("2026-02-21", "later")):
        land(write_landing(landing, "orders", dt, [order(f"o-{name}", at(2))], name=name), at(18, 3))
    for day in (3, 7, 8):  # Tuesday, Saturday, Sunday
        said = []
        ingest_step(date(2026, 3, day), f"daily__030{day}", progress=said.append)
        assert not any("listing every arrival partition" in line for line in said)
    # The Sunday run names the two files the daily runs could not see, and what to restate.
    (warning,) = [line for line in "\n".join(said).splitlines() if "older than the daily runs' lookback" in line]
    assert "WARNING: 2 file(s)" in warning and "orders/dt=2026-02-20/late.parquet, orders/dt=2026-02-21/later.parquet." in warning
    assert "csmetrics restate --start 2026-02-19 --end 2026-03-03" in warning
    # And the backfill's prepare step, after the latest partition the Sunday run listed was read.
    land(write_landing(landing, "orders", "2026-02-22", [order("o-backfill", at(2))], name="backfill"), at(18, 9))
    backfill_prepare_step(date(2026, 3, 9), date(2026, 3, 9), False, progress=lambda message: None)

    log = spark.read.format("delta").load(settings.table_path("bronze", "_ingest_log")).where("table = 'orders'")
    assert sorted((r.source_file.rsplit("/", 1)[-1], r.run_id) for r in log.collect()) == [
        ("a.parquet", "daily__0302"), ("b.parquet", "daily__0303"), ("backfill.parquet", "backfill__2026-03-09_2026-03-09"),
        ("feb.parquet", "daily__0302"), ("late.parquet", "daily__0308"), ("later.parquet", "daily__0308"),
    ]


def test_a_run_whose_lookback_holds_no_ingested_file_lists_every_partition_and_its_retry_knows_what_it_ingested(spark, settings):
    """After a pause longer than the lookback, a daily run lists every partition, even with
    a misplaced file logged long ago (it is listed, and its log row read, by every run). Its
    retry lists the lookback only and still knows the tables its first attempt ingested
    (the bronze gate then reads their rows back)."""
    from csmetrics.schedule import first_partition_listed

    settings, landing = replace(settings, unreadable_files="quarantine"), settings.landing
    write_landing(landing, "shops", "2026-02-01", [
        dict(shop_id="s1", shop_name="One", platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai", opened_date=date(2025, 1, 1)),
    ])
    stray = write_landing(landing, "orders", "2026-02-01", [order("o-stray", at(1))], name="stray")
    stray.rename(stray.parent.parent / "stray.parquet")  # directly under orders/, not in a partition
    ingest(spark, settings, "long-ago", landed_by=None)
    write_landing(landing, "ratings", "2026-02-20", [rating("r-old")], name="old")
    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1))], name="a")
    since = first_partition_listed(date(2026, 3, 2), 7)
    said = []
    first = ingest(spark, settings, "daily__0302", landed_by=CUTOFF_MARCH_2, progress=said.append, since=since)
    assert f"no file of the arrival partitions since {since} was ingested before: listing every arrival partition" in said
    assert (ingested(first, "ratings"), ingested(first, "orders")) == (["dt=2026-02-20/old.parquet"], ["dt=2026-03-02/a.parquet"])
    retry = ingest(spark, settings, "daily__0302", landed_by=CUTOFF_MARCH_2, keep_appended=True, since=since)
    assert retry.tables == {} and retry.appended == {"ratings": None, "orders": None}
    retry.release_appended()


def test_every_table_is_counted_in_one_spark_job(spark, tmp_path):
    """Ingest counts the classified batches of every table (by file, status and reason, the
    late records, the records of shops without a snapshot row) in one Spark job, also where
    the session runs adaptive execution (production does; it makes a job of each shuffle)."""
    from collections import Counter

    from csmetrics.ingest import run as ingest_run
    from csmetrics.ingest.classify import DUPLICATE, INSERT, QUARANTINE
    from tests.integration.test_quality_gate import jobs_of

    day, on_time, months_later = date(2026, 3, 2), datetime(2026, 3, 2, 12), datetime(2026, 6, 1)
    events = "_source_file string, status string, reason string, _without_shop boolean, shop_id string, event_date date, _landed_at timestamp"
    ratings = spark.createDataFrame([
        ("f1", INSERT, None, False, "s1", day, on_time), ("f1", INSERT, None, False, "s1", day, months_later),
        ("f1", INSERT, None, True, "new-shop", day, on_time), ("f2", QUARANTINE, "out_of_range:score", False, "s1", day, on_time),
        ("f2", QUARANTINE, "out_of_range:score; conflicting:rated_at", True, "other-shop", day, on_time),
    ], events)
    orders = spark.createDataFrame([
        ("f3", DUPLICATE, None, True, "s9", day, months_later), ("f3", INSERT, None, True, "s9", day + timedelta(days=1), on_time),
    ], events)
    agents = spark.createDataFrame([("f4", INSERT, None, "s1")], "_source_file string, status string, reason string, shop_id string")
    frames = (("ratings", ratings), ("orders", orders), ("agents", agents), ("complaints", None))  # complaints: no readable file
    pending = {name: ingest_run._NewFiles([], None, frame) for name, frame in frames}
    report = ingest_run.IngestReport("r1", {name: ingest_run.TableReport(name) for name in pending})

    with session_setting(spark, "spark.sql.adaptive.enabled", "true"):
        _, jobs = jobs_of(spark, f"count-{tmp_path.name}", lambda: ingest_run._count(pending, report))
    assert jobs == 1
    r, o, a, c = (report.tables[name] for name in ("ratings", "orders", "agents", "complaints"))
    assert (r.landed, r.inserted, r.quarantined, r.duplicates, r.late_for_final) == (5, 3, 2, 0, 1)
    assert (r.without_shop, r.shops_without_row, r.without_shop_dates) == (1, {"new-shop"}, (day, day))
    assert r.reasons == Counter({"out_of_range:score": 2, "conflicting": 1})
    assert r.by_file == {"f1": Counter({INSERT: 3}), "f2": Counter({QUARANTINE: 2})}
    assert (o.landed, o.inserted, o.duplicates, o.late_for_final, o.by_file) == (2, 1, 1, 0, {"f3": Counter({INSERT: 1, DUPLICATE: 1})})
    assert (o.without_shop, o.shops_without_row, o.without_shop_dates) == (1, {"s9"}, (day + timedelta(days=1),) * 2)
    assert (a.landed, a.inserted, a.without_shop, a.late_for_final, a.by_file) == (1, 1, 0, 0, {"f4": Counter({INSERT: 1})})
    assert (c.landed, c.by_file) == (0, {})


def test_an_ingest_counts_its_tables_once_and_holds_each_batch_on_disk_uncompressed(spark, settings, landing, monkeypatch):
    from csmetrics.ingest import run as ingest_run

    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1))])
    write_landing(landing, "ratings", "2026-03-02", [rating("r1")])
    calls, held = [], []
    count, persist = ingest_run._count, ingest_run.persist_on_disk
    monkeypatch.setattr(ingest_run, "_count", lambda pending, report: (calls.append(sorted(pending)), count(pending, report)))
    monkeypatch.setattr(ingest_run, "persist_on_disk", lambda spark, frame: held.append(frame.columns) or persist(spark, frame))
    report = ingest(spark, settings, "r1", landed_by=CUTOFF_MARCH_2)
    assert calls == [["orders", "ratings", "shops"]]
    # Each table's classified batch (the next test: held without column compression).
    assert len(held) == 3 and all("status" in columns for columns in held)
    assert sorted((t.table, t.landed, t.inserted) for t in report.tables.values()) == [("orders", 1, 1), ("ratings", 1, 1), ("shops", 1, 1)]


def test_each_batch_is_classified_without_adaptive_execution_in_partitions_sized_by_its_records(spark, settings, landing, monkeypatch):
    """Under production's adaptive execution, each table's batch is still classified and counted
    in one job with the known shops' broadcast: its cache is planned without adaptive execution.
    With no bronze yet its shuffles are sized by its landed records (here one partition per
    record); once bronze exists they also hold its stored keys, in the session's partitions."""
    from csmetrics.ingest import run as ingest_run
    from tests.integration.test_quality_gate import jobs_of

    assert [ingest_run.batch_partitions(n, 8) for n in (0, 1, 250_000, 250_001, 10_000_000)] == [1, 1, 1, 2, 8]
    monkeypatch.setattr(ingest_run, "RECORDS_PER_SHUFFLE_PARTITION", 1)
    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1)), order("o2", at(2))])
    write_landing(landing, "ratings", "2026-03-02", [rating("r1")])
    planned, count = [], ingest_run._count
    persist = ingest_run.persist_on_disk

    def planned_cache(spark_, frame):
        held = persist(spark_, frame)
        planned.append((spark_.conf.get("spark.sql.adaptive.enabled"), spark_.conf.get("spark.sql.shuffle.partitions")))
        return held

    counted = []
    monkeypatch.setattr(ingest_run, "persist_on_disk", planned_cache)
    monkeypatch.setattr(ingest_run, "_count", lambda pending, report: counted.append(jobs_of(spark, "ingest-count", lambda: count(pending, report))[1]))
    with session_setting(spark, "spark.sql.adaptive.enabled", "true"), session_setting(spark, "spark.sql.shuffle.partitions", "8"):
        report = ingest(spark, settings, "r1", landed_by=CUTOFF_MARCH_2)
        assert (spark.conf.get("spark.sql.adaptive.enabled"), spark.conf.get("spark.sql.shuffle.partitions")) == ("true", "8")
        # Tables in order: shops (1 record), ratings (1), orders (2).
        assert planned == [("false", "1"), ("false", "1"), ("false", "2")]
        # One job classifies and counts the three tables; the broadcast of the known shops (for
        # orders and ratings) runs one of its own each.
        assert counted == [3]
        assert sorted((t.table, t.landed, t.inserted) for t in report.tables.values()) == [("orders", 2, 2), ("ratings", 1, 1), ("shops", 1, 1)]

        # Twenty more orders of one date, classified in 8 partitions (bronze exists), are
        # written in one file per 10 inserted records: 2 files, not one per partition.
        monkeypatch.setattr(ingest_run, "RECORDS_PER_SHUFFLE_PARTITION", 10)
        write_landing(landing, "orders", "2026-03-02", [order(f"o{i}", at(3)) for i in range(10, 30)], name="part-1")
        planned.clear()
        ingest(spark, settings, "r2", landed_by=CUTOFF_MARCH_2)
        assert planned == [("false", "8")]
    [append, *_] = log_commits(spark, bronze_path(settings, "orders"))
    assert (append.user_metadata, append.operation_metrics["numOutputRows"], append.operation_metrics["numFiles"]) == ("r2", "20", "2")


def test_a_rewritten_file_is_ingested_again_and_its_unchanged_rows_are_duplicates(spark, settings, landing):
    path = write_landing(landing, "orders", "2026-03-02", [order("o1", at(1))], landed_at=at(10))
    ingest(spark, settings, "r1", landed_by=CUTOFF_MARCH_2)
    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1)), order("o5", at(2))], landed_at=at(11))
    report = ingest(spark, settings, "r2", landed_by=CUTOFF_MARCH_2).tables["orders"]
    assert path.exists() and (report.landed, report.inserted, report.duplicates) == (2, 1, 1)


def test_an_ingest_overtaken_by_another_appends_nothing_and_its_rerun_adds_no_copy(spark, settings, landing, monkeypatch):
    """Two ingests of the same new files at once (two processes by hand): both classify
    against the same bronze version; the other commits first. The first's append is then
    refused by Delta's idempotent write, it stops before its ingest log rows, and its re-run
    has nothing left to ingest: every record is in bronze once, every file logged once."""
    from csmetrics.ingest import run as ingest_run

    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1))], name="a")
    ingest(spark, settings, "r0", landed_by=None)
    write_landing(landing, "orders", "2026-03-02", [order("o2", at(2)), order("o3", at(3))], name="b")
    append = ingest_run._append_to_bronze

    def overtaken(spark_, settings_, table, classified, version, run_id, inserted):
        monkeypatch.setattr(ingest_run, "_append_to_bronze", append)
        other = ingest(spark, settings, "other", landed_by=None)  # classifies against `version` too, and commits
        assert other.tables["orders"].inserted == 2
        return append(spark_, settings_, table, classified, version, run_id, inserted)

    monkeypatch.setattr(ingest_run, "_append_to_bronze", overtaken)
    with pytest.raises(ingest_run.ConcurrentIngestError, match="Another ingest appended to bronze/orders while this run"):
        ingest(spark, settings, "slow", landed_by=None)
    assert sorted(r.order_id for r in read_bronze(spark, settings, "orders").collect()) == ["o1", "o2", "o3"]
    rerun = ingest(spark, settings, "slow", landed_by=None)
    assert ingested(rerun, "orders") == []
    log = spark.read.format("delta").load(settings.table_path("bronze", "_ingest_log")).where("table = 'orders'")
    assert sorted((r.source_file.rsplit("/", 1)[-1], r.run_id) for r in log.collect()) == [("a.parquet", "r0"), ("b.parquet", "other")]


def test_an_unchanged_snapshot_adds_no_version_and_a_changed_one_is_read_as_of_the_cutoff(spark, settings, landing):
    shop = dict(shop_id="s1", shop_name="One", platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai",
                opened_date=date(2025, 1, 1))
    write_landing(landing, "shops", "2026-03-03", [shop])
    write_landing(landing, "shops", "2026-03-04", [shop | {"tier": "L2", "timezone": "Asia/Tokyo"}])
    write_landing(landing, "shops", "2026-03-05", [shop])  # back to the first version
    first = ingest(spark, settings, "r1", landed_by=CUTOFF_MARCH_2).tables["shops"]
    assert (first.landed, first.inserted, first.duplicates) == (2, 1, 1)  # dt=03-02 (fixture) and 03-03 agree
    later = ingest(spark, settings, "r2", landed_by=None).tables["shops"]
    assert (later.landed, later.inserted, later.duplicates) == (2, 2, 0)

    def shop_as_of(run_date):
        row = read_bronze(spark, settings, "shops", cutoff=cutoff(run_date)).first()
        return row.tier, row.timezone

    assert shop_as_of(date(2026, 3, 2)) == ("L1", "Asia/Shanghai")
    assert shop_as_of(date(2026, 3, 3)) == ("L2", "Asia/Tokyo")
    assert shop_as_of(date(2026, 3, 4)) == ("L1", "Asia/Shanghai")


def test_a_file_name_with_spaces_is_read_quarantined_and_logged_once(spark, settings, landing):
    write_landing(landing, "ratings", "2026-03-02", [rating("r1"), rating("bad", score=9)], name="batch 7 (retry)")
    first = ingest(spark, replace(settings, max_invalid_share=1.0), "r1", landed_by=CUTOFF_MARCH_2).tables["ratings"]
    assert (first.landed, first.inserted, first.quarantined) == (2, 1, 1)
    rows = quarantine(spark, settings).where("table = 'ratings'").collect()
    assert [r.source_file.rsplit("/", 1)[-1] for r in rows] == ["batch%207%20(retry).parquet"]
    assert "ratings" not in ingest(spark, settings, "r2", landed_by=CUTOFF_MARCH_2).tables


def test_a_day_with_nothing_landed_fails_unless_told_to_warn(spark, settings, landing, monkeypatch):
    from csmetrics.ingest.run import EmptyDayError
    from csmetrics.pipeline import ingest_step

    # An upstream outage: the shops snapshot landed, no sessions or messages did.
    with pytest.raises(EmptyDayError) as stopped:
        ingest_step(date(2026, 3, 2), "outage", progress=lambda message: None)
    assert len(str(stopped.value).splitlines()) == 1
    assert "no landing data for 2026-03-02" in str(stopped.value) and "CSMETRICS_ON_EMPTY_DAY=warn" in str(stopped.value)

    monkeypatch.setenv("CSMETRICS_ON_EMPTY_DAY", "warn")
    said = []
    ingest_step(date(2026, 3, 2), "quiet-day", progress=said.append)
    assert said[0].startswith("WARNING: no landing data for 2026-03-02")

    # One messages file in dt = D + 1, landed by the cutoff, is a day with data.
    monkeypatch.setenv("CSMETRICS_ON_EMPTY_DAY", "fail")
    write_landing(landing, "messages", "2026-03-03", [], landed_at=at(9, 3))
    ingest_step(date(2026, 3, 2), "with-data", progress=lambda message: None)


def test_a_file_whose_records_were_not_all_classified_stops_the_run():
    from collections import Counter

    from csmetrics.ingest.run import AccountingError, TableReport, _check_classified_every_record

    balanced = TableReport("orders", footer_records={"file:/a.parquet": 3}, by_file={"file:/a.parquet": Counter(insert=2, duplicate=1)})
    _check_classified_every_record(balanced)
    # A file rewritten in place between its footer and its data being read.
    lost = TableReport("orders", footer_records={"file:/a.parquet": 3}, by_file={"file:/a.parquet": Counter(insert=2)})
    with pytest.raises(AccountingError, match="file:/a.parquet declares 3 records, 2 were classified"):
        _check_classified_every_record(lost)


def test_landed_files_schemas_come_from_their_footers_without_a_spark_job(spark, settings, tmp_path):
    """Each distinct footer's schema is what `spark.read.parquet` infers, taken from the footer
    ingest reads anyway: a file written from the contract, one with a column of another type and
    an extra column, one with required columns, and one written by Spark (its schema in the
    footer's metadata). A file with two columns that differ only in case is still refused."""
    write_landing(settings.landing, "orders", "2026-03-02", [order("o1", at(9))], name="contract")
    folder = Path(settings.landing) / "orders" / "dt=2026-03-02"
    pq.write_table(pa.table({"order_id": ["o2"], "shop_id": ["s1"], "amount": ["12.50"], "coupon": [3]}), folder / "other.parquet")
    required = pa.schema([pa.field("order_id", pa.string(), nullable=False), pa.field("item_count", pa.int32(), nullable=False)])
    pq.write_table(pa.table({"order_id": ["o3"], "item_count": [2]}, schema=required), folder / "required.parquet")
    pq.write_table(pa.table({"order_id": ["o4"], "ORDER_ID": ["o5"]}), folder / "twice.parquet")
    written = tmp_path / "by-spark"
    spark.createDataFrame([("o6", "s1", 7)], "order_id string, shop_id string, amount int").coalesce(1).write.parquet(str(written))
    (by_spark,) = written.glob("*.parquet")
    by_spark.rename(folder / "by-spark.parquet")
    files = landed_files(spark, settings.landing, "orders", landed_by=None)
    assert len(files) == 5

    context, group = spark.sparkContext, f"footers-{tmp_path.name}"
    context.setJobGroup(group, "schemas of the landed files")
    try:
        landed = read_files(spark, RAW_TABLES["orders"], files)
    finally:
        for key in ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel"):
            context.setLocalProperty(key, None)
    assert context.statusTracker().getJobIdsForGroup(group) == []
    [refused] = landed.unreadable
    assert refused.path.endswith("twice.parquet") and "COLUMN_ALREADY_EXISTS" in refused.error, refused
    read = [f for f in files if not f.path.endswith("twice.parquet")]
    inferred = {f.path: spark.read.parquet(f.path).schema for f in read}
    assert len(landed.groups) == 4
    for each in landed.groups:
        assert all(inferred[f.path] == each.schema for f in each.files)


def test_a_files_landed_count_is_every_row_group_of_its_footer(spark, settings, landing):
    """A file written in several row groups (as a writer flushing every few rows does):
    its footer declares the rows of all of them, and every record is accounted for."""
    path = write_landing(landing, "orders", "2026-03-02", [order(f"o{i}", at(1)) for i in range(5)])
    pq.write_table(pq.read_table(path), path, row_group_size=2)
    land(path, at(12))
    assert pq.ParquetFile(path).metadata.num_row_groups == 3

    landed = read_files(spark, RAW_TABLES["orders"], landed_files(spark, landing, "orders", landed_by=None))
    assert list(landed.footer_records.values()) == [5]
    report = ingest(spark, settings, "r1", landed_by=None)
    assert (report.tables["orders"].landed, report.tables["orders"].inserted) == (5, 5)


def test_files_of_one_schema_are_read_by_one_scan_each_record_keeping_its_files_arrival_partition(spark, settings):
    # Three arrival partitions, one written as the basic ISO date the listing also accepts.
    for dt, name in (("2026-03-02", "a"), ("2026-03-03", "b"), ("20260304", "c d")):
        write_landing(settings.landing, "orders", dt, [order(f"o-{name}-{i}", at(9)) for i in range(2)], name=name)
    files = landed_files(spark, settings.landing, "orders", landed_by=None)
    landed = read_files(spark, RAW_TABLES["orders"], files)

    assert len(landed.groups) == 1
    assert landed.records._jdf.queryExecution().optimizedPlan().collectLeaves().size() == 1
    got = sorted((r._source_file.rsplit("/", 2)[-2], r._arrival_dt) for r in landed.records.select("_source_file", "_arrival_dt").collect())
    assert got == [("dt=2026-03-02", date(2026, 3, 2))] * 2 + [("dt=2026-03-03", date(2026, 3, 3))] * 2 + [("dt=20260304", date(2026, 3, 4))] * 2
    # A file whose folder the lookup lacks stops the read, rather than leave its arrival date null.
    lacking = replace(landed.groups[0], files=tuple(replace(f, uri=f.uri.replace("/dt=20260304/", "/elsewhere/")) for f in landed.groups[0].files))
    with pytest.raises(Exception, match="csmetrics bug: no arrival partition for file:.*/dt=20260304/c%20d.parquet"):
        lacking.read(spark).select("_arrival_dt").collect()


def test_the_event_dates_of_a_batch_are_collected_only_where_its_bronze_table_exists(spark, settings, landing, monkeypatch):
    from csmetrics.ingest import run as ingest_run

    collected, event_dates = [], ingest_run._event_dates
    monkeypatch.setattr(ingest_run, "_event_dates", lambda records, table: collected.append(table.name) or event_dates(records, table))
    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1))])
    ingest(spark, settings, "r1", landed_by=CUTOFF_MARCH_2)
    assert collected == []  # a new warehouse: no bronze version to meet, no job for the dates

    # The next day's re-send of o1 is judged against bronze: the dates are collected then.
    write_landing(landing, "orders", "2026-03-03", [order("o1", at(1)), order("o2", at(1, 3))], landed_at=at(9, 3))
    report = ingest(spark, settings, "r2", landed_by=cutoff(date(2026, 3, 3)))
    assert collected == ["orders"]
    assert (report.tables["orders"].inserted, report.tables["orders"].duplicates) == (1, 1)


def test_the_classified_batch_is_held_on_disk_with_uncompressed_columns_and_other_caches_keep_the_setting(spark):
    """Ingest's batch is persisted on local disk without the columnar cache's compression
    (CPU the disk does not need); the session's setting is left as it was for other caches."""
    from pyspark import StorageLevel

    from csmetrics.ingest.run import COLUMNAR_CACHE_COMPRESSED, persist_on_disk

    def disk_bytes(frame) -> int:
        """The local disk of the frame's own cache, once computed."""
        frame.count()
        relation = frame._jdf.queryExecution().withCachedData()
        assert relation.nodeName() == "InMemoryRelation"
        rdd_id = relation.cacheBuilder().cachedColumnBuffers().id()
        return sum(info.diskSize() for info in spark.sparkContext._jsc.sc().getRDDStorageInfo() if info.id() == rdd_id)

    repetitive = spark.range(100_000).selectExpr("id % 4 AS a", "concat('the same text ', id % 3) AS b")
    held = persist_on_disk(spark, repetitive.where("a >= 0"))
    assert spark.conf.get(COLUMNAR_CACHE_COMPRESSED) == "true"
    cached = repetitive.where("a >= 0 AND b IS NOT NULL").persist(StorageLevel.DISK_ONLY)
    try:
        # The same rows, uncompressed, take about five times the disk.
        assert disk_bytes(held) > 3 * disk_bytes(cached) > 0
    finally:
        held.unpersist(True)
        cached.unpersist(True)
