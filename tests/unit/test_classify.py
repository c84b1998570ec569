"""Classifying landed records: validity is one boolean, with reasons built only for invalid
records; re-sends are judged by a 64-bit fingerprint, and by SHA-256 against what bronze
stored before it."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import functions as F
from pyspark.sql import types as T

from csmetrics.ingest.classify import DUPLICATE, INSERT, QUARANTINE, classify, content_sha256, fingerprint
from csmetrics.ingest.validate import with_validity
from csmetrics.schemas.raw import RATINGS, RawTable

INVITED = datetime(2026, 3, 2, 10, 0)


def _ratings(spark, rows):
    """Ratings as `landing.read_files` hands them on: the contract's columns and `_read_problems`."""
    # Landed columns are nullable whatever the contract says: the rules decide.
    columns = [T.StructField(f.name, f.dataType) for f in RATINGS.schema.fields]
    schema = T.StructType([*columns, T.StructField("_read_problems", T.ArrayType(T.StringType()))])
    return spark.createDataFrame(rows, schema)


def _rating(rating_id, target="human", rated_at=datetime(2026, 3, 2, 10, 5), score=5, problems=()):
    return (rating_id, "sess1", "s1", "b1", target, INVITED, rated_at, score, ["fast"], list(problems))


def _landed(spark, rows):
    """Ratings with the columns `landing.read_files` adds: one file landed at 12:00."""
    return _ratings(spark, rows).withColumns(
        {
            "_arrival_dt": F.to_date(F.lit("2026-03-02")),
            "_landed_at": F.lit(datetime(2026, 3, 2, 12, 0)),
            "_source_file": F.lit("file:/landing/ratings/a.parquet"),
            "_row_index": F.monotonically_increasing_id(),
        }
    )


def test_valid_records_carry_no_reasons_and_invalid_ones_every_reason_read_problems_first(spark):
    checked = with_validity(
        _ratings(
            spark,
            [
                _rating("valid"),
                _rating("bad enum, unreadable score", target="robot", score=None, problems=["bad_type:score"]),
                _rating("rated before invited", rated_at=datetime(2026, 3, 2, 9, 59)),
                # Null breaks only the required rule: the comparison with null is no contradiction.
                _rating("rated_at missing", rated_at=None),
                _rating("score out of range", score=6),
            ],
        ),
        RATINGS,
    )
    found = {r["rating_id"]: (r["_valid"], r["reasons"]) for r in checked.collect()}
    assert found == {
        "valid": (True, None),
        "bad enum, unreadable score": (False, ["bad_type:score", "null_required:score", "bad_enum:target"]),
        "rated before invited": (False, ["contradiction:rated_at<invited_at"]),
        "rated_at missing": (False, ["null_required:rated_at"]),
        "score out of range": (False, ["out_of_range:score"]),
    }


def test_the_fingerprint_tells_a_null_moved_to_another_column_apart(spark):
    table = RawTable(
        name="pairs",
        schema=T.StructType([T.StructField("a", T.StringType()), T.StructField("b", T.StringType())]),
        primary_key="a",
        event_time=None,
    )
    rows = spark.createDataFrame([("x", None), (None, "x"), ("x", None)], table.schema)
    hashes = [r[0] for r in rows.select(fingerprint(table)).collect()]
    assert hashes[0] == hashes[2] != hashes[1]
    assert hashes[0].startswith("xxh64:") and len(hashes[0]) == len("xxh64:") + 16


def test_the_fingerprint_tells_arrays_with_null_elements_apart(spark):
    tags = [["a", None], [None, "a"], ["a"], [], [None], None, ["a", None]]
    rows = _ratings(spark, [(*_rating("r1")[:8], t, []) for t in tags])
    hashes = [r[0] for r in rows.select(fingerprint(RATINGS)).collect()]
    assert len(set(hashes[:-1])) == len(tags) - 1 and hashes[-1] == hashes[0]


def test_a_resend_of_a_record_stored_with_the_older_sha256_is_judged_by_it(spark):
    """Bronze written before the fingerprint holds SHA-256 hex: an exact re-send of such a record
    is a duplicate, a changed one a conflicting re-send; a record stored with the fingerprint is
    compared by it."""
    old, new = _rating("stored before"), _rating("stored after")
    stored = _ratings(spark, [old, new]).select("rating_id", content_sha256(RATINGS).alias("_row_hash")).where(
        F.col("rating_id") == "stored before"
    ).unionByName(_ratings(spark, [new]).select("rating_id", fingerprint(RATINGS).alias("_row_hash")))

    def statuses(rows):
        return sorted((r["rating_id"], r["status"]) for r in classify(_landed(spark, rows), RATINGS, None, stored).collect())

    assert statuses([old, new, _rating("not stored")]) == [("not stored", INSERT), ("stored after", DUPLICATE), ("stored before", DUPLICATE)]
    assert statuses([_rating("stored before", score=1), _rating("stored after", score=1)]) == [
        ("stored after", QUARANTINE),
        ("stored before", QUARANTINE),
    ]


def test_the_landed_records_are_shuffled_once_for_the_stored_versions_and_the_first_landed(spark):
    """The join with bronze's versions and the first-landed window share one partitioning by
    the key: one exchange of the records (every column) and one of the stored keys."""
    stored = _ratings(spark, [_rating("stored")]).select("rating_id", fingerprint(RATINGS).alias("_row_hash"))
    classified = classify(_landed(spark, [_rating("stored"), _rating("new")]), RATINGS, None, stored)
    threshold = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")  # as at scale: bronze's keys are too many to broadcast
    try:
        plan = classified._jdf.queryExecution().executedPlan().toString()
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", threshold)
    assert plan.count("Exchange hashpartitioning") == 2, plan
