"""The ingest job: new arrival partitions -> bronze (MERGE), quarantine, ingest log."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics import registry
from csmetrics.bronze import EVENT_DATE, bronze_path, bronze_schema
from csmetrics.config import Settings
from csmetrics.delta_io import commit_metadata, ensure_table, replace_where, sql_in, table_exists
from csmetrics.ingest.classify import DUPLICATE, INSERT, QUARANTINE, classify, version_key
from csmetrics.ingest.landing import ArrivalPartition, UnreadableFile, arrival_partitions, read_partitions
from csmetrics.plan import arrival_cutoff
from csmetrics.schemas.gold import INGEST_LOG
from csmetrics.schemas.gold import QUARANTINE as QUARANTINE_SCHEMA
from csmetrics.schemas.raw import RAW_TABLES, RawTable

class InvalidInputError(RuntimeError):
    """Too many invalid records: the run stops before anything reaches bronze or gold."""


@dataclass
class TableReport:
    table: str
    arrival_dates: list[date] = field(default_factory=list)
    landed: int = 0
    inserted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    # Inserted records about events older than anything a normal run still recomputes.
    late_for_final: int = 0
    reasons: Counter = field(default_factory=Counter)
    unreadable_files: list[UnreadableFile] = field(default_factory=list)

    @property
    def invalid_share(self) -> float:
        return self.quarantined / self.landed if self.landed else 0.0

    def line(self) -> str:
        dates = f"{self.arrival_dates[0]}..{self.arrival_dates[-1]}" if self.arrival_dates else "-"
        text = (
            f"{self.table:12s} dt {dates:22s} landed {self.landed:>10,d}  bronze {self.inserted:>10,d}  "
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
                f"{late:,d} late record(s) concern dates whose metrics are already final: they change nothing "
                "until a restatement (csmetrics restate --start ... --end ...)"
            )
        return "\n".join(lines)


def ingest(spark: SparkSession, settings: Settings, run_date: date, run_id: str, progress=print) -> IngestReport:
    """Ingest every arrival partition up to the run's cutoff that no earlier run ingested."""
    report = IngestReport(run_id)
    log_path = settings.table_path("bronze", "_ingest_log")
    ensure_table(spark, log_path, INGEST_LOG, [])
    done = {
        (row["table"], row["arrival_dt"])
        for row in spark.read.format("delta").load(log_path).select("table", "arrival_dt").collect()
    }
    pending: dict[str, tuple[list[ArrivalPartition], DataFrame | None]] = {}
    for name, table in RAW_TABLES.items():
        partitions = [
            p
            for p in arrival_partitions(spark, settings.landing, name, arrival_cutoff(run_date))
            if (name, p.arrival_dt) not in done
        ]
        if not partitions:
            continue
        progress(f"ingest {name}: {len(partitions)} new arrival partition(s)")
        records, unreadable = read_partitions(spark, table, partitions)
        table_report = TableReport(name, [p.arrival_dt for p in partitions], unreadable_files=unreadable)
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
            table_report.late_for_final = _late_for_final(classified, table, run_date)
        report.tables[name] = table_report
        pending[name] = (partitions, classified)

    quarantine_path = settings.table_path("quarantine", "records")
    ensure_table(spark, quarantine_path, QUARANTINE_SCHEMA, ["table", "arrival_dt"])
    for name, (partitions, classified) in pending.items():
        _write_quarantine(spark, quarantine_path, report.tables[name], partitions, classified, run_id)
    _fail_if_too_many_invalid(report, settings, quarantine_path)

    with commit_metadata(spark, run_id):
        for name, (partitions, classified) in pending.items():
            if classified is not None:
                _merge_into_bronze(spark, settings, RAW_TABLES[name], classified, run_id)
                classified.unpersist()
    log_rows = [
        (name, p.arrival_dt, run_id, datetime.now(timezone.utc)) for name, (parts, _) in pending.items() for p in parts
    ]
    if log_rows:
        spark.createDataFrame(log_rows, INGEST_LOG).write.format("delta").mode("append").option(
            "userMetadata", run_id
        ).save(log_path)
    return report


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


def _late_for_final(classified: DataFrame, table: RawTable, run_date: date) -> int:
    """Valid new records whose UTC event date lies before every date a normal run still
    recomputes with this table (one extra day for timezones): they concern final values
    and change nothing until a restatement (docs/maturity.md)."""
    horizon = registry.recompute_horizon_days(table.name)
    if horizon is None or table.event_time is None:
        return 0
    oldest_open = run_date - timedelta(days=horizon + 1)
    return classified.where((F.col("status") == INSERT) & (F.col(EVENT_DATE) < F.lit(oldest_open))).count()


def _write_quarantine(spark, path, report: TableReport, partitions, classified, run_id) -> None:
    """Replace this table's quarantine rows for the arrival dates read (re-runs stay idempotent)."""
    now = F.lit(datetime.now(timezone.utc)).cast("timestamp")
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
            (f.table, f.arrival_dt, f.path, f"unreadable_file: {f.error}", None, run_id, datetime.now(timezone.utc))
            for f in report.unreadable_files
        ]
        frames.append(spark.createDataFrame(rows, QUARANTINE_SCHEMA))
    if not frames:
        return
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    predicate = f"table = '{report.table}' AND " + sql_in("arrival_dt", [p.arrival_dt for p in partitions])
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
        "_row_hash",
        F.lit(run_id).alias("_run_id"),
    )
    target = ensure_table(
        spark, bronze_path(settings, table.name), bronze_schema(table), [EVENT_DATE] if table.event_time else []
    )
    condition = " AND ".join(f"t.{k} = s.{k}" for k in version_key(table))
    if table.event_time:
        condition = f"t.{EVENT_DATE} = s.{EVENT_DATE} AND " + condition
    merge = target.alias("t").merge(rows.alias("s"), condition)
    if table.is_snapshot:
        merge = merge.whenMatchedUpdateAll(condition="s._arrival_dt >= t._arrival_dt")
    merge.whenNotMatchedInsertAll().execute()
