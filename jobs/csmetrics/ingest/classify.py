"""Decide where every landed record goes: bronze, quarantine, or dropped as a duplicate."""

from __future__ import annotations

from collections.abc import Collection

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from csmetrics.ingest.validate import with_validity
from csmetrics.schemas.bronze import EVENT_DATE
from csmetrics.schemas.raw import RawTable

INSERT, DUPLICATE, QUARANTINE = "insert", "duplicate", "quarantine"


def version_key(table: RawTable) -> list[str]:
    """Rows with `updated_at` are versioned by it; snapshot rows by their landing and content;
    others are identified by the key alone."""
    if table.is_snapshot:
        return [table.primary_key, "_landed_at", "_row_hash"]
    return [table.primary_key, "updated_at"] if table.has_updated_at else [table.primary_key]


def with_event_date(records: DataFrame, table: RawTable) -> DataFrame:
    if table.event_time is None:
        return records
    return records.withColumn(EVENT_DATE, F.to_date(table.event_time))


# An event record's content hash: a 64-bit xxHash of its columns, tagged so that it is never
# mistaken for the SHA-256 hex that bronze stored before (docs/scaling.md, "Records are classified cheaply").
FINGERPRINT = "xxh64:"


def fingerprint(table: RawTable) -> Column:
    """`xxh64:` and the hex of one xxhash64 over the record's columns. Spark's hash skips a null
    argument and a null array element, so each column's null flag is hashed beside it, and an
    array's null flag per element: (a, null) and (null, a) differ, and so do [a, null] and [a]."""
    parts: list[Column] = []
    for field in table.schema.fields:
        column = F.col(field.name)
        parts += [column, column.isNull()]
        if isinstance(field.dataType, T.ArrayType):
            parts.append(F.transform(column, lambda element: element.isNull()))
    return F.concat(F.lit(FINGERPRINT), F.hex(F.xxhash64(*parts)))


def content_sha256(table: RawTable) -> Column:
    """SHA-256 of the record's JSON: the hash of every snapshot row, and of the event rows that
    bronze stored before the fingerprint."""
    return F.sha2(F.to_json(F.struct(*table.columns)), 256)


def with_row_hash(records: DataFrame, table: RawTable) -> DataFrame:
    """Snapshots (a few thousand rows) keep SHA-256: a snapshot row is compared with its key's
    previous version, whose stored hash must be of the same kind."""
    return records.withColumn("_row_hash", content_sha256(table) if table.is_snapshot else fingerprint(table))


def classify(
    records: DataFrame, table: RawTable, known_shops: DataFrame | None, existing: DataFrame | None, zones: Collection[str] = ()
) -> DataFrame:
    """Add `status` (insert / duplicate / quarantine) and `reason` to landed records.

    `known_shops` holds the shop ids with a valid row in the shops snapshot; a valid record of
    another shop still goes to bronze (its shop's row may land later), flagged
    `_without_shop`. `existing` holds the version keys and `_row_hash` already in bronze for
    the batch's partitions; `zones` the timezone names a timezone column may hold.

    Events: the first landed version of a key wins; an exact re-send is a duplicate, a
    different one is quarantined. Snapshots: a row is a new version when its content differs
    from the key's previous version by landing time, so an unchanged snapshot adds nothing.
    """
    checked = with_row_hash(with_event_date(with_validity(records, table, zones), table), table)
    if known_shops is not None:
        known = known_shops.select(F.col("shop_id").alias("_known_shop")).distinct()
        checked = checked.join(F.broadcast(known), F.col("shop_id") == F.col("_known_shop"), "left")
        checked = checked.withColumn("_without_shop", F.col("shop_id").isNotNull() & F.col("_known_shop").isNull()).drop("_known_shop")
    else:
        checked = checked.withColumn("_without_shop", F.lit(False))

    if table.is_snapshot:
        return _classify_snapshot(checked, table, existing)
    key = version_key(table)
    valid = F.col("_valid")
    # The stored versions join first: the window below is partitioned by the key the join
    # shuffled the records by, so the records (every column, message text included) cross the
    # network once, not once for the join and once for the window.
    if existing is not None:
        stored = existing.select(*[F.col(k).alias(f"_stored_{k}") for k in key], F.col("_row_hash").alias("_stored_hash"))
        on = [F.col(k) == F.col(f"_stored_{k}") for k in key]
        checked = checked.join(stored, on, "left")
    else:
        checked = checked.withColumn("_stored_hash", F.lit(None).cast("string"))
    # First landed wins (SPEC §2); within one landing, the record earlier in its file.
    first = Window.partitionBy(valid, *key).orderBy("_landed_at", "_source_file", "_row_index")
    ranked = checked.withColumn("_rank", F.row_number().over(first)).withColumn(
        "_first_hash", F.first("_row_hash").over(first)
    )

    key_text = " and ".join(key)
    later_copy = F.col("_rank") > 1
    same_as_first = F.col("_row_hash") == F.col("_first_hash")
    in_bronze = F.col("_stored_hash").isNotNull()
    # A version stored before the fingerprint is compared by its SHA-256, computed for these
    # few records only.
    same_as_bronze = (
        F.when(~in_bronze, F.lit(False))
        .when(F.col("_stored_hash").startswith(FINGERPRINT), F.col("_row_hash") == F.col("_stored_hash"))
        .otherwise(content_sha256(table) == F.col("_stored_hash"))
    )
    conflict = F.lit(f"conflicting_resend: same {key_text} as an earlier record, different content")
    status = (
        F.when(~valid, QUARANTINE)
        .when(later_copy & same_as_first, DUPLICATE)
        .when(later_copy, QUARANTINE)
        .when(in_bronze & same_as_bronze, DUPLICATE)
        .when(in_bronze, QUARANTINE)
        .otherwise(INSERT)
    )
    reason = F.when(~valid, F.array_join("reasons", "; ")).when(F.col("status") == QUARANTINE, conflict)
    return ranked.withColumn("status", status).withColumn("reason", reason).drop(
        "_rank", "_first_hash", "_stored_hash", *[f"_stored_{k}" for k in key]
    )


def _classify_snapshot(checked: DataFrame, table: RawTable, existing: DataFrame | None) -> DataFrame:
    """A snapshot row is a new version of its key unless the key's previous version (by
    landing time, stored or landed in this batch) has the same content."""
    key = table.primary_key
    valid = F.col("_valid")
    landed = checked.withColumn("_stored", F.lit(False))
    if existing is not None:
        stored = existing.select(
            key, "_landed_at", "_row_hash", F.lit(True).alias("_valid"), F.lit(True).alias("_stored")
        )
        landed = landed.unionByName(stored, allowMissingColumns=True)
    # Stored versions first on equal landing times, so that re-ingesting a file adds nothing.
    order = Window.partitionBy(valid, key).orderBy("_landed_at", F.col("_stored").desc(), "_row_hash", "_source_file")
    previous = F.lag("_row_hash").over(order)
    unchanged = previous.isNotNull() & (previous == F.col("_row_hash"))
    status = F.when(~valid, QUARANTINE).when(unchanged, DUPLICATE).otherwise(INSERT)
    return (
        landed.withColumn("status", status)
        .withColumn("reason", F.when(~valid, F.array_join("reasons", "; ")))
        .where(~F.col("_stored"))
        .drop("_stored")
    )
