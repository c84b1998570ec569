"""The ingest job: files landed by the run's cutoff and not yet ingested -> bronze (MERGE),
quarantine, ingest log (one row per file: exactly once, whenever a file lands)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.bronze import bronze_path
from csmetrics.config import Settings
from csmetrics.delta_io import commit_metadata, replace_where, sql_in, table_exists
from csmetrics.ingest.classify import DUPLICATE, INSERT, QUARANTINE, classify, version_key
from csmetrics.ingest.landing import LandedFile, UnreadableFile, landed_files, read_files
from csmetrics.metrics.families import recompute_horizon_days
from csmetrics.schedule import DAY_COMPLETE_AFTER
from csmetrics.schemas.bronze import EVENT_DATE
from csmetrics.schemas.gold import INGEST_LOG as INGEST_LOG_SCHEMA
from csmetrics.schemas.gold import QUARANTINE as QUARANTINE_SCHEMA
from csmetrics.schemas.raw import RAW_TABLES, RawTable
from csmetrics.tables import INGEST_LOG, bronze
from csmetrics.tables import QUARANTINE as QUARANTINE_TABLE


class InvalidInputError(RuntimeError):
    """Too many invalid records: the run stops before anything reaches bronze or gold."""




@dataclass
class TableReport:
    table: str
    files: list[LandedFile] = field(default_factory=list)
    landed: int = 0
    inserted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    # Inserted records that landed after the cutoff of the last run that could use them.
    late_for_final: int = 0
    reasons: Counter = field(default_factory=Counter)
    unreadable_files: list[UnreadableFile] = field(default_factory=list)

    @property
    def invalid_share(self) -> float:
        return self.quarantined / self.landed if self.landed else 0.0

    def line(self) -> str:
        dts = sorted({f.arrival_dt for f in self.files})
        dates = f"{dts[0]}..{dts[-1]}" if dts else "-"
        text = (
            f"{self.table:12s} {len(self.files):>4d} file(s) dt {dates:22s} landed {self.landed:>10,d}  bronze {self.inserted:>10,d}  "
            f"quarantined {self.quarantined:>8,d}  duplicates {self.duplicates:>8,d}"
        )
        if self.late_for_final:
            text += f"  late for final dates {self.late_for_final:,d}"
        if self.unreadable_files:
            text += f"  unreadable files {len(self.unreadable_files)}"
        return text


@dataclass
class IngestReport:
    run_id: str
    tables: dict[str, TableReport] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [report.line() for report in self.tables.values()]
        late = sum(report.late_for_final for report in self.tables.values())
        if late:
            lines.append(
                f"{late:,d} late record(s) landed after the run that made their dates final had read its "
                "input: they change nothing until a restatement (csmetrics restate --start ... --end ...)"
            )
        return "\n".join(lines)


def ingest(
    spark: SparkSession, settings: Settings, run_id: str, landed_by: datetime | None, progress=print
) -> IngestReport:
    """Ingest every landed file (landed by `landed_by`; None: all) that no earlier run ingested.

    The ingest log names each file with its landing time, so a file that lands in an
    arrival partition already read is ingested by the next run, and no file twice."""
    report = IngestReport(run_id)
    log_path = INGEST_LOG.path(settings)
    INGEST_LOG.ensure(spark, settings)
    done = {
        (row["source_file"], row["landed_us"])
        for row in spark.read.format("delta").load(log_path)
        .select("source_file", F.unix_micros("landed_at").alias("landed_us"))
        .collect()
    }
    pending: dict[str, tuple[list[LandedFile], DataFrame | None]] = {}
    for name, table in RAW_TABLES.items():
        files = [
            f
            for f in landed_files(spark, settings.landing, name, landed_by)
            if (f.uri, _micros(f.landed_at)) not in done
        ]
        if not files:
            continue
        progress(f"ingest {name}: {len(files)} new file(s)")
        records, unreadable = read_files(spark, table, files)
        table_report = TableReport(name, files, unreadable_files=unreadable)
        classified = None
        if records is not None:
            known_shops = _known_shops(spark, settings, pending) if name != "shops" else None
            existing = _existing_versions(spark, settings, table, records)
            # Read by four steps (counts, late records, quarantine, MERGE), so cached; on local
            # disk, because a day's raw batch (raw records included) outgrows memory, and a
            # cache held in memory starves the sorts and aggregations of execution memory
            # (AGGREGATE_OUT_OF_MEMORY at 10 million messages in a 4 GB driver).
            classified = classify(records, table, known_shops, existing).persist(StorageLevel.DISK_ONLY)
            _count(classified, table_report)
            table_report.late_for_final = _late_for_final(classified, table)
        report.tables[name] = table_report
        pending[name] = (files, classified)

    quarantine_path = QUARANTINE_TABLE.path(settings)
    QUARANTINE_TABLE.ensure(spark, settings)
    for name, (files, classified) in pending.items():
        _write_quarantine(spark, quarantine_path, report.tables[name], files, classified, run_id)
    _fail_if_too_many_invalid(report, settings, quarantine_path)

    with commit_metadata(spark, run_id):
        for name, (_, classified) in pending.items():
            if classified is not None:
                if report.tables[name].inserted:
                    _merge_into_bronze(spark, settings, RAW_TABLES[name], classified, run_id)
                classified.unpersist()
    now = datetime.now(UTC)
    log_rows = [(name, f.arrival_dt, f.uri, f.landed_at, run_id, now) for name, (files, _) in pending.items() for f in files]
    if log_rows:
        spark.createDataFrame(log_rows, INGEST_LOG_SCHEMA).write.format("delta").mode("append").option(
            "userMetadata", run_id
        ).save(log_path)
    return report


def _micros(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def _known_shops(spark, settings, pending) -> DataFrame:
    """Shops in bronze, plus valid shops of this very run (ingested just before)."""
    known = []
    if table_exists(spark, bronze_path(settings, "shops")):
        known.append(spark.read.format("delta").load(bronze_path(settings, "shops")).select("shop_id"))
    shops = pending.get("shops", (None, None))[1]
    if shops is not None:
        known.append(shops.where(F.col("status") != QUARANTINE).select("shop_id"))
    if not known:
        return spark.createDataFrame([], "shop_id string")
    result = known[0]
    for frame in known[1:]:
        result = result.unionByName(frame)
    return result


def _existing_versions(spark, settings, table: RawTable, records: DataFrame) -> DataFrame | None:
    path = bronze_path(settings, table.name)
    if not table_exists(spark, path):
        return None
    stored = spark.read.format("delta").load(path)
    if table.is_snapshot:
        return stored.select(table.primary_key, "_landed_at", "_row_hash")
    if table.event_time is not None:
        # Only the bronze partitions this batch can touch (a tiny aggregate, not raw data).
        dates = [r[0] for r in records.select(F.to_date(table.event_time)).distinct().collect() if r[0] is not None]
        if not dates:
            return None
        stored = stored.where(F.col(EVENT_DATE).isin(dates))
    return stored.select(*version_key(table), "_row_hash")


def _count(classified: DataFrame, report: TableReport) -> None:
    for row in classified.groupBy("status", "reason").count().collect():
        report.landed += row["count"]
        if row["status"] == INSERT:
            report.inserted += row["count"]
        elif row["status"] == DUPLICATE:
            report.duplicates += row["count"]
        else:
            report.quarantined += row["count"]
            for reason in row["reason"].split("; "):
                report.reasons[reason.split(":", 1)[0] if reason.startswith("conflicting") else reason] += row["count"]


def _late_for_final(classified: DataFrame, table: RawTable) -> int:
    """Valid new records that landed after the cutoff of the last run that could still use
    them: the run for the event's latest possible local date (UTC date + 1) plus the longest
    window of the metrics reading the table. They concern final values and change nothing
    until a restatement (docs/maturity.md). Judged per record, by its own landing time, so
    a backfill that ingests months at once reports none of the records each day's cutoff saw."""
    horizon = recompute_horizon_days(table.name)
    if horizon is None or table.event_time is None:
        return 0
    # cutoff(E + 1 + horizon) = E + 2 + horizon days at 00:00 UTC + DAY_COMPLETE_AFTER.
    last_use = F.date_add(EVENT_DATE, horizon + 2).cast("timestamp") + F.expr(
        f"INTERVAL {int(DAY_COMPLETE_AFTER.total_seconds())} SECONDS"
    )
    return classified.where((F.col("status") == INSERT) & (F.col("_landed_at") > last_use)).count()


def _write_quarantine(spark, path, report: TableReport, files: list[LandedFile], classified, run_id) -> None:
    """Replace this table's quarantine rows of the files read (re-runs stay idempotent)."""
    if not report.quarantined and not report.unreadable_files:
        # The same files always classify the same way: no earlier attempt left rows either.
        return
    now = F.lit(datetime.now(UTC)).cast("timestamp")
    frames = []
    if classified is not None:
        frames.append(
            classified.where(F.col("status") == QUARANTINE).select(
                F.lit(report.table).alias("table"),
                F.col("_arrival_dt").alias("arrival_dt"),
                F.col("_source_file").alias("source_file"),
                F.col("reason"),
                F.col("_raw_record").alias("raw_record"),
                F.lit(run_id).alias("run_id"),
                now.alias("quarantined_at"),
            )
        )
    if report.unreadable_files:
        rows = [
            (f.table, f.arrival_dt, f.path, f"unreadable_file: {f.error}", None, run_id, datetime.now(UTC))
            for f in report.unreadable_files
        ]
        frames.append(spark.createDataFrame(rows, QUARANTINE_SCHEMA))
    if not frames:
        return
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    predicate = (
        f"table = '{report.table}' AND "
        + sql_in("arrival_dt", sorted({f.arrival_dt for f in files}))
        + " AND "
        + sql_in("source_file", [f.uri for f in files])
    )
    replace_where(result, path, predicate, ["table", "arrival_dt"], run_id)


def _fail_if_too_many_invalid(report: IngestReport, settings: Settings, quarantine_path: str) -> None:
    failing = [t for t in report.tables.values() if t.invalid_share > settings.max_invalid_share]
    if not failing:
        return
    lines = []
    for t in failing:
        top = ", ".join(f"{reason} ({count:,d})" for reason, count in t.reasons.most_common(3))
        lines.append(
            f"  {t.table}: {t.quarantined:,d} of {t.landed:,d} records invalid ({t.invalid_share:.1%}); "
            f"most frequent reasons: {top}"
        )
    raise InvalidInputError(
        f"Ingestion stopped: more than {settings.max_invalid_share:.1%} of a table's records are invalid "
        f"(limit CSMETRICS_MAX_INVALID_SHARE).\n" + "\n".join(lines) + "\n"
        f"Nothing was written to bronze or gold. The invalid records are in the quarantine table {quarantine_path} "
        f"(filter on run_id = '{report.run_id}'). Fix or replace the upstream files, then re-run this date."
    )


def _merge_into_bronze(spark: SparkSession, settings: Settings, table: RawTable, classified: DataFrame, run_id: str):
    rows = classified.where(F.col("status") == INSERT).select(
        *table.columns,
        *([EVENT_DATE] if table.event_time else []),
        "_arrival_dt",
        "_landed_at",
        "_row_hash",
        F.lit(run_id).alias("_run_id"),
    )
    target = bronze(table.name).ensure(spark, settings)
    condition = " AND ".join(f"t.{k} = s.{k}" for k in version_key(table))
    if table.event_time:
        condition = f"t.{EVENT_DATE} = s.{EVENT_DATE} AND " + condition
    target.alias("t").merge(rows.alias("s"), condition).whenNotMatchedInsertAll().execute()
