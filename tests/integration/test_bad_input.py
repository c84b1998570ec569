"""Every kind of bad input the issue names ends quarantined or rejected with a clear reason,
and count(landed) = bronze + quarantine + duplicates holds in each case."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from csmetrics.ingest import run as ingest_run
from csmetrics.ingest.run import InvalidInputError, ingest
from csmetrics.quality.bronze_gate import validate_bronze
from csmetrics.tables import INGEST_LOG
from tests.integration.landing_files import write_landing

UTC = UTC
DT = "2026-03-02"
RUN = "bad-input-run"


def at(hour: int) -> datetime:
    return datetime(2026, 3, 2, hour, tzinfo=UTC)


def rating(rating_id="ok", score=5, target="human", invited=None, rated=None, shop="s1"):
    return dict(rating_id=rating_id, session_id="x", shop_id=shop, buyer_id="b1", target=target,
                invited_at=invited or at(3), rated_at=rated or at(4), score=score, tags=None)


def order(order_id="ok", amount="10.00", updated=None):
    return dict(order_id=order_id, shop_id="s1", buyer_id="b1", created_at=at(1), paid_at=None,
                amount=Decimal(amount), item_count=1, updated_at=updated or at(1))


def complaints_folder(landing: str) -> Path:
    folder = Path(landing) / "complaints" / f"dt={DT}"
    folder.mkdir(parents=True, exist_ok=True)
    write_landing(landing, "complaints", DT, [dict(complaint_id="ok", order_id=None, shop_id="s1", buyer_id="b1",
                                                   kind="complaint", created_at=at(1))], name="good")
    return folder


def corrupt_file(landing):
    (complaints_folder(landing) / "broken.parquet").write_bytes(b"this is not parquet")


def missing_column(landing):
    pq.write_table(pa.table({"complaint_id": ["c1"], "shop_id": ["s1"], "buyer_id": ["b1"], "created_at": [at(1)]}),
                   complaints_folder(landing) / "no_kind.parquet")


def wrong_type(landing):
    pq.write_table(pa.table({"complaint_id": ["c2"], "order_id": [None], "shop_id": ["s1"], "buyer_id": ["b"],
                             "kind": ["dispute"], "created_at": ["yesterday"]}), complaints_folder(landing) / "text_time.parquet")


def empty_partition(landing):
    write_landing(landing, "complaints", DT, [])


def invalid_utf8(landing):
    """A buyer id, and a tag of another rating, whose bytes are not UTF-8 (Parquet strings are
    bytes; writers can get this wrong)."""
    rows = [rating(), rating("bad-tag")]
    table = pa.table({k: [row[k] for row in rows] for k in rows[0] if k not in ("buyer_id", "tags")} | {
        "buyer_id": pa.array([b"b\xff\xfe1", b"b1"], pa.binary()).view(pa.string()),
        "tags": pa.array([None, [b"\xe5\xa5\xbd", b"fast\xc3\x28"]], pa.list_(pa.binary())).view(pa.list_(pa.string())),
    })
    # Beside them, an id and a tag in Chinese and with an emoji: valid UTF-8 of four-byte
    # characters goes to bronze.
    write_landing(landing, "ratings", DT, [rating("r0") | {"buyer_id": "买家-😀-1", "tags": ["回复快😀"]}])
    pq.write_table(table, Path(landing) / "ratings" / f"dt={DT}" / "bytes.parquet")


CASES = {
    "corrupt parquet file": ("complaints", corrupt_file, ["unreadable_file"]),
    "missing column": ("complaints", missing_column, ["missing_column:kind; null_required:kind"]),
    "wrong column type": ("complaints", wrong_type, ["bad_type:created_at; null_required:created_at"]),
    "unknown enum value": ("ratings", lambda landing: write_landing(landing, "ratings", DT, [rating(), rating("r2", target="robot")]),
                           ["bad_enum:target"]),
    "null key": ("ratings", lambda landing: write_landing(landing, "ratings", DT, [rating(), rating(None)]), ["null_required:rating_id"]),
    "contradicting timestamps": ("ratings", lambda landing: write_landing(landing, "ratings", DT, [rating(), rating("r3", invited=at(5), rated=at(4))]),
                                 ["contradiction:rated_at<invited_at"]),
    "negative amount": ("orders", lambda landing: write_landing(landing, "orders", DT, [order(), order("o2", amount="-1.00")]),
                        ["out_of_range:amount"]),
    "score 7": ("ratings", lambda landing: write_landing(landing, "ratings", DT, [rating(), rating("r7", score=7)]), ["out_of_range:score"]),
    # Same key and updated_at: an exact copy is a duplicate, a different one a conflict.
    "duplicate keys with the same updated_at": (
        "orders",
        lambda landing: write_landing(landing, "orders", DT, [order(), order(), order("o4"), order("o4", amount="11.00")]),
        ["conflicting_resend: same order_id and updated_at as an earlier record, different content"],
    ),
    # Not bad input: its shop's row may land later (tests below). It goes to bronze, counted.
    "a shop not in shops": ("ratings", lambda landing: write_landing(landing, "ratings", DT, [rating(), rating("r8", shop="nowhere")]), []),
    "empty arrival partition": ("complaints", empty_partition, []),
    "invalid UTF-8": ("ratings", invalid_utf8, ["invalid_utf8:buyer_id", "invalid_utf8:tags"]),
    # One bad snapshot row holds back its own shop only, whatever its share (here 1 of 2).
    "a shop with an unknown timezone": ("shops", lambda landing: write_landing(landing, "shops", DT, [
        dict(shop_id="s2", shop_name="Two", platform="tmall", category="food", tier="L1", timezone="Mars/Olympus",
             opened_date=date(2025, 1, 1))], name="mars"), ["unknown_timezone:timezone"]),
}


# The quarantined record's raw_record, as JSON text of the record as it landed (nulls omitted).
AS_LANDED = {
    "wrong column type": '{"complaint_id":"c2","shop_id":"s1","buyer_id":"b","kind":"dispute","created_at":"yesterday"}',
    "duplicate keys with the same updated_at": (
        '{"order_id":"o4","shop_id":"s1","buyer_id":"b1","created_at":"2026-03-02T01:00:00.000Z","amount":11.00,'
        '"item_count":1,"updated_at":"2026-03-02T01:00:00.000Z"}'
    ),
}


def landed_records(landing: str, table: str) -> int:
    """Records in the readable landing files of a table, counted without Spark."""
    total = 0
    for path in (Path(landing) / table).rglob("*.parquet"):
        try:
            total += pq.read_metadata(path).num_rows
        except pa.ArrowInvalid:
            continue
    return total


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_quarantined_with_its_reason_and_nothing_is_lost(spark, settings, case):
    table, land, expected_reasons = CASES[case]
    write_landing(settings.landing, "shops", DT, [
        dict(shop_id="s1", shop_name="One", platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai", opened_date=date(2025, 1, 1)),
    ])
    land(settings.landing)
    # Files written here land now: ingest everything landed, whatever the cutoff.
    lenient = replace(settings, unreadable_files="quarantine") if table == "shops" else replace(
        settings, max_invalid_share=1.0, unreadable_files="quarantine")
    report = ingest(spark, lenient, RUN, landed_by=None).tables[table]

    quarantine = spark.read.format("delta").load(settings.table_path("quarantine", "records")).where(F.col("table") == table)
    reasons = sorted(r.reason.split(": ", 1)[0] if r.reason.startswith("unreadable") else r.reason
                     for r in quarantine.collect())
    assert reasons == expected_reasons

    # Quarantined rows stay readable text, whatever bytes they came with, and hold the record
    # as it landed: the value that did not cast, the re-sent record's own content.
    assert all(r.raw_record is None or "\ufffd" in r.raw_record or r.raw_record.isprintable() for r in quarantine.collect())
    if case in AS_LANDED:
        assert [r.raw_record for r in quarantine.collect()] == [AS_LANDED[case]]

    bronze_path = settings.table_path("bronze", table)
    bronze = spark.read.format("delta").load(bronze_path).count() if Path(bronze_path).exists() else 0
    records_quarantined = quarantine.where(~F.col("reason").startswith("unreadable_file")).count()
    assert landed_records(settings.landing, table) == report.landed == bronze + records_quarantined + report.duplicates
    # The ingest log keeps the same accounting per file, "landed" from each file's footer.
    files = spark.read.format("delta").load(INGEST_LOG.path(settings)).where((F.col("table") == table) & F.col("landed_records").isNotNull())
    assert [(f.landed_records - f.bronze_records - f.quarantined_records - f.duplicate_records) for f in files.collect()] == [0] * files.count()
    assert sum(f.landed_records for f in files.collect()) == report.landed


    if case in ("empty arrival partition", "duplicate keys with the same updated_at", "a shop with an unknown timezone"):
        # What reached bronze passes the bronze gate; an empty batch is only a warning.
        results = [r for r in validate_bronze(spark, settings, RUN) if r.table == f"bronze/{table}"]
        warnings = [r.name for r in results if not r.success]
        assert warnings == (["expect_table_row_count_to_be_between"] if case == "empty arrival partition" else [])


def test_an_unreadable_file_stops_the_run_naming_the_file_and_its_error(spark, settings):
    write_landing(settings.landing, "shops", DT, [
        dict(shop_id="s1", shop_name="One", platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai", opened_date=date(2025, 1, 1)),
    ])
    corrupt_file(settings.landing)
    with pytest.raises(InvalidInputError) as stopped:
        ingest(spark, settings, RUN, landed_by=None)
    message = str(stopped.value)
    assert len(message.splitlines()) == 1
    assert "broken.parquet: java.lang.RuntimeException:" in message and "is not a Parquet file" in message
    assert "CSMETRICS_UNREADABLE_FILES=quarantine" in message
    # Nothing reached bronze, the file is on record, and the next run reads it again.
    assert not Path(settings.table_path("bronze", "complaints")).exists()
    quarantined = spark.read.format("delta").load(settings.table_path("quarantine", "records")).collect()
    assert [r.reason.split(":")[0] for r in quarantined] == ["unreadable_file"]
    assert spark.read.format("delta").load(INGEST_LOG.path(settings)).count() == 0


def test_a_file_outside_the_layout_is_named_and_stops_the_run_or_is_quarantined_once(spark, settings):
    """SPEC §2: every landed record ends in exactly one place. A file in `sessions/2026-03-02/`
    (a folder not named dt=...), one directly under `sessions/` and one in a sub-folder of an
    arrival partition are not read: they are named, and stop the run, or with
    CSMETRICS_UNREADABLE_FILES=quarantine are quarantined whole, once."""
    write_landing(settings.landing, "shops", DT, [
        dict(shop_id="s1", shop_name="One", platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai", opened_date=date(2025, 1, 1)),
    ])
    sessions = Path(settings.landing) / "sessions"
    stray = write_landing(settings.landing, "ratings", DT, [rating()], name="stray")
    for target in (sessions / "2026-03-02" / "part-0.parquet", sessions / "part-1.parquet", sessions / f"dt={DT}" / "retry" / "part-2.parquet"):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(stray.read_bytes())
    stray.unlink()
    # In flight or markers: never read, never reported.
    (sessions / "_temporary").mkdir()
    (sessions / "_temporary" / "part-9.parquet").write_bytes(b"half a file")
    (sessions / f"dt={DT}" / "_SUCCESS").write_bytes(b"")

    with pytest.raises(InvalidInputError) as stopped:
        ingest(spark, settings, RUN, landed_by=None)
    message = str(stopped.value)
    assert len(message.splitlines()) == 1 and "3 landed file(s) lie outside the layout" in message
    for name, where in (("2026-03-02/part-0.parquet", "not in an arrival partition sessions/dt=YYYY-MM-DD/"),
                        ("sessions/part-1.parquet", "not in an arrival partition"),
                        (f"dt={DT}/retry/part-2.parquet", f"in a sub-folder of the arrival partition sessions/dt={DT}/")):
        assert re.search(re.escape(name) + r" \(" + re.escape(where), message), name
    assert "_temporary" not in message and "_SUCCESS" not in message
    assert spark.read.format("delta").load(INGEST_LOG.path(settings)).count() == 0

    report = ingest(spark, replace(settings, unreadable_files="quarantine"), RUN, landed_by=None)
    assert "misplaced files 3" in report.tables["sessions"].line()
    quarantined = spark.read.format("delta").load(settings.table_path("quarantine", "records")).where(F.col("table") == "sessions").collect()
    assert sorted(r.reason.split(":")[0] for r in quarantined) == ["misplaced_file"] * 3
    # Recorded once: the next run reads nothing new.
    assert "sessions" not in ingest(spark, settings, "next-run", landed_by=None).tables


def test_the_events_of_a_shop_with_an_invalid_snapshot_row_wait_in_bronze(spark, settings):
    write_landing(settings.landing, "shops", DT, [
        dict(shop_id="s1", shop_name="One", platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai", opened_date=date(2025, 1, 1)),
        dict(shop_id="s2", shop_name="Two", platform="amazon", category="food", tier="L1", timezone="Europe/Paris", opened_date=date(2025, 1, 1)),
    ])
    write_landing(settings.landing, "ratings", DT, [rating("r1"), rating("r2", shop="s2")])
    report = ingest(spark, settings, RUN, landed_by=None)
    assert (report.tables["shops"].quarantined, report.tables["ratings"].inserted) == (1, 2)
    shops = spark.read.format("delta").load(settings.table_path("bronze", "shops"))
    assert [r.shop_id for r in shops.collect()] == ["s1"]


def test_events_of_a_shop_missing_from_the_snapshot_are_counted_and_counted_in_once_its_row_lands(spark, settings, monkeypatch):
    """No event is dropped without a count: sessions and messages of a shop that the shops
    snapshot does not hold go to bronze, the run reports them in one line (records, shops,
    tables, and the restatement that dates already final will need), and the bronze gate
    records a warning with the count, on the batch as ingest held it (reading no bronze) as
    on the rows read back from bronze. Once the shop's row lands, the run for the date
    computes its metrics."""
    from csmetrics.compute import family_tables
    from csmetrics.metrics.family import METRIC_ROWS
    from csmetrics.plan import RunPlan
    from csmetrics.quality import bronze_gate
    from csmetrics.quality.bronze_gate import validate_bronze
    from tests.conftest import local

    shop = dict(shop_name="x", platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai", opened_date=date(2025, 1, 1))
    write_landing(settings.landing, "shops", DT, [dict(shop_id="s1", **shop)], landed_at=at(0))
    started = local("2026-03-02 10:00:00")
    session = dict(session_id="new-1", shop_id="s9", buyer_id="b9", started_at=started, ended_at=None, transferred_to_human_at=None,
                   queue_entered_at=None, assigned_at=None, last_agent_id=None, is_internal=False, is_spam=False, scene_l1=None,
                   scene_l2=None, scene_l3=None, updated_at=started)
    write_landing(settings.landing, "sessions", DT, [session], landed_at=at(5))
    write_landing(settings.landing, "messages", DT, [
        dict(message_id=f"new-m{i}", session_id="new-1", shop_id="s9", sender_role="buyer", agent_id=None, sent_at=started, msg_type="text")
        for i in (1, 2)
    ], landed_at=at(5))

    report = ingest(spark, settings, RUN, landed_by=None, keep_appended=True)
    (line,) = [text for text in report.summary().splitlines() if "without a valid row" in text]
    assert "3 record(s) of 1 shop(s) without a valid row in the shops snapshot (s9): sessions 1, messages 2" in line
    assert "csmetrics restate --start 2026-03-01 --end 2026-03-03" in line
    assert spark.read.format("delta").load(settings.table_path("bronze", "messages")).count() == 2

    def read_back(*args):
        raise AssertionError("the gate read bronze back")

    with monkeypatch.context() as patched:
        patched.setattr(bronze_gate, "written_by", read_back)
        held = {(r.table, r.unexpected_count) for r in validate_bronze(spark, settings, RUN, report.appended) if not r.success}
    report.release_appended()
    assert held == {("bronze/sessions", 1), ("bronze/messages", 2)}
    recorded = spark.read.format("delta").load(settings.table_path("quality", "validation_results"))
    assert recorded.where("kwargs LIKE '%has_shop_row%' AND NOT success").count() == 2
    assert {(r.table, r.unexpected_count) for r in validate_bronze(spark, settings, RUN) if not r.success} == held

    def consult_sessions(plan):
        rows = family_tables(spark, settings, plan)[METRIC_ROWS].where((F.col("metric") == "consult_sessions") & F.col("agent_id").isNull())
        return {(r.stat_date, r.shop_id): r.numerator for r in rows.collect()}

    assert consult_sessions(RunPlan(date(2026, 3, 2), ("conversation",))) == {}
    # The shop's row lands with the next day's snapshot: the next run counts its session.
    write_landing(settings.landing, "shops", "2026-03-03", [dict(shop_id="s1", **shop), dict(shop_id="s9", **shop)], landed_at=at(20))
    assert "without a valid row" not in ingest(spark, settings, "next-run", landed_by=None).summary()
    assert consult_sessions(RunPlan(date(2026, 3, 2), ("conversation",), restate=True)) == {(date(2026, 3, 2), "s9"): 1.0}


def test_a_retry_of_the_run_checks_again_what_its_earlier_attempts_appended(spark, settings, monkeypatch):
    """An Airflow retry runs the bronze phase again under the same run id. Its bronze gate
    checks the run's rows read back from bronze wherever an earlier attempt appended: after a
    crash between the appends and the ingest log, and after a gate that stopped the run, when
    the retry finds no new file at all and would otherwise have nothing to check."""
    from csmetrics.quality.gate import QualityGateError
    from csmetrics.schemas.bronze import bronze_schema
    from csmetrics.schemas.raw import RATINGS

    write_landing(settings.landing, "shops", DT, [
        dict(shop_id="s1", shop_name="One", platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai", opened_date=date(2025, 1, 1)),
    ])
    write_landing(settings.landing, "ratings", DT, [rating("r1"), rating("r2")])

    def crash(*args):
        raise RuntimeError("killed after the appends, before the ingest log")

    with monkeypatch.context() as patched:
        patched.setattr(ingest_run, "_file_accounting", crash)
        with pytest.raises(RuntimeError, match="killed"):
            ingest(spark, settings, RUN, landed_by=None, keep_appended=True)
    # The retry reads the files again (none is logged) and finds its records in bronze already.
    retry = ingest(spark, settings, RUN, landed_by=None, keep_appended=True)
    assert (retry.tables["ratings"].inserted, retry.tables["ratings"].duplicates) == (0, 2)
    assert retry.appended == {"shops": None, "ratings": None}
    assert {r.table for r in validate_bronze(spark, settings, RUN, retry.appended)} == {"bronze/shops", "bronze/ratings"}

    # A row under the run's id that breaks the contract stops the gate; the next retry finds
    # no new file and stops again, until the row is removed.
    bad = (*rating("r9", score=9).values(), date(2026, 3, 2), date(2026, 3, 2), at(5), "hash", RUN)
    spark.createDataFrame([bad], bronze_schema(RATINGS)).write.format("delta").mode("append").save(settings.table_path("bronze", "ratings"))
    for _ in range(2):
        attempt = ingest(spark, settings, RUN, landed_by=None, keep_appended=True)
        assert attempt.tables == {} and attempt.appended == {"shops": None, "ratings": None}
        with pytest.raises(QualityGateError, match="expect_column_values_to_be_between"):
            validate_bronze(spark, settings, RUN, attempt.appended)


@pytest.fixture
def no_broadcast_joins(spark):
    keys = ("spark.sql.autoBroadcastJoinThreshold", "spark.sql.adaptive.autoBroadcastJoinThreshold")
    previous = {key: spark.conf.get(key, None) for key in keys}
    for key in keys:
        spark.conf.set(key, "-1")
    yield
    for key, value in previous.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)


def test_quarantined_records_too_many_to_broadcast_keep_their_landed_text(spark, settings, monkeypatch, no_broadcast_joins):
    """Past FEW_TO_BROADCAST quarantined records, their landed text is joined by a shuffle
    (Spark's own broadcasts off too): the same rows come out."""
    monkeypatch.setattr(ingest_run, "FEW_TO_BROADCAST", 0)
    write_landing(settings.landing, "shops", DT, [
        dict(shop_id="s1", shop_name="One", platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai", opened_date=date(2025, 1, 1)),
    ])
    table, land, reasons = CASES["wrong column type"]
    land(settings.landing)
    report = ingest(spark, replace(settings, max_invalid_share=1.0), RUN, landed_by=None).tables[table]
    quarantine = spark.read.format("delta").load(settings.table_path("quarantine", "records")).collect()
    assert report.quarantined == 1
    assert [(r.reason, r.raw_record) for r in quarantine] == [(reasons[0], AS_LANDED["wrong column type"])]
