"""The ingest job: files landed by the run's cutoff and not yet ingested -> bronze (one
idempotent append per table), quarantine, ingest log (one row per file: exactly once,
whenever a file lands)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from itertools import takewhile

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.bronze import bronze_path
from csmetrics.commits import log_commits, newest_commit
from csmetrics.config import RECORDS_PER_SHUFFLE_PARTITION, Settings
from csmetrics.delta_io import commit_metadata, replace_where, sql_in, table_exists
from csmetrics.ingest.classify import DUPLICATE, INSERT, QUARANTINE, classify, version_key
from csmetrics.ingest.landing import (
    MISPLACED,
    UNREADABLE,
    LandedFile,
    LandedRecords,
    UnreadableFile,
    has_landed_for_day,
    landed_files,
    read_files,
)
from csmetrics.metrics.families import recompute_horizon_days
from csmetrics.schedule import DAY_COMPLETE_AFTER, first_partition_listed, first_run_after
from csmetrics.schemas.bronze import EVENT_DATE
from csmetrics.schemas.gold import INGEST_LOG as INGEST_LOG_SCHEMA
from csmetrics.schemas.gold import QUARANTINE as QUARANTINE_SCHEMA
from csmetrics.schemas.raw import RAW_TABLES, RawTable
from csmetrics.spark import session_setting, without_adaptive_execution
from csmetrics.tables import INGEST_LOG, bronze
from csmetrics.tables import QUARANTINE as QUARANTINE_TABLE
from csmetrics.timezones import known_zones

# Quarantined records of a table up to this many are sent to every task that reads their
# files again for their JSON text; more are joined by a shuffle.
FEW_TO_BROADCAST = 100_000
COLUMNAR_CACHE_COMPRESSED = "spark.sql.inMemoryColumnarStorage.compressed"


class InvalidInputError(RuntimeError):
    """Too many invalid records, or a file that cannot be read: the run stops before
    anything reaches bronze or gold."""


class AccountingError(RuntimeError):
    """Records landed != bronze + quarantine + duplicates: some were lost or doubled."""


class EmptyDayError(InvalidInputError):
    """No conversation file landed for the run's date: an upstream outage, not a quiet day."""


def check_day_landed(spark: SparkSession, settings: Settings, run_date, landed_by: datetime | None, progress=print) -> None:
    """Fail (or warn, CSMETRICS_ON_EMPTY_DAY=warn) when nothing landed for the run's date
    (by `landed_by`; None: at all)."""
    if has_landed_for_day(spark, settings.landing, run_date, landed_by):
        return
    by = f" by {landed_by:%Y-%m-%d %H:%M} UTC" if landed_by else ""
    message = (
        f"no landing data for {run_date}: no sessions or messages file in arrival partitions dt={run_date} and "
        f"dt={run_date + timedelta(days=1)} had landed{by} ({settings.landing})."
    )
    if settings.on_empty_day == "fail":
        raise EmptyDayError(
            f"{message} An upstream outage looks like this, so nothing was published. Re-run this date once the "
            "files have landed; if the day really had no customer service, re-run with CSMETRICS_ON_EMPTY_DAY=warn."
        )
    progress(f"WARNING: {message} Publishing the day as empty (CSMETRICS_ON_EMPTY_DAY=warn).")


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
    # Inserted records of shops without a valid row in the shops snapshot: their shops, and
    # the first and last UTC event date among them.
    without_shop: int = 0
    shops_without_row: set[str] = field(default_factory=set)
    without_shop_dates: tuple = ()
    reasons: Counter = field(default_factory=Counter)
    unreadable_files: list[UnreadableFile] = field(default_factory=list)
    # Per file URI: the records its footer declares, and its records by status.
    footer_records: dict[str, int] = field(default_factory=dict)
    by_file: dict[str, Counter] = field(default_factory=dict)

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
        unreadable = sum(1 for f in self.unreadable_files if f.kind == UNREADABLE)
        if unreadable:
            text += f"  unreadable files {unreadable}"
        if len(self.unreadable_files) > unreadable:
            text += f"  misplaced files {len(self.unreadable_files) - unreadable}"
        return text


@dataclass
class IngestReport:
    run_id: str
    tables: dict[str, TableReport] = field(default_factory=dict)
    # With ingest(keep_appended=True): per table the run ingested, the rows this attempt
    # appended to bronze, with `has_shop_row` for event tables, held (persisted) until
    # `release_appended`; None where the gate must read the run's rows back (no readable file,
    # or an earlier attempt of the run ingested the table).
    appended: dict[str, DataFrame | None] = field(default_factory=dict)
    # New files landed in an arrival partition older than the daily runs' lookback.
    outside_lookback: list[LandedFile] = field(default_factory=list)
    _held: list[DataFrame] = field(default_factory=list)

    def release_appended(self) -> None:
        for frame in self._held:
            frame.unpersist()
        self._held.clear()
        self.appended.clear()

    def summary(self) -> str:
        lines = [report.line() for report in self.tables.values()]
        late = sum(report.late_for_final for report in self.tables.values())
        if late:
            lines.append(
                f"{late:,d} late record(s) landed after the run that made their dates final had read its "
                "input: they change nothing until a restatement (csmetrics restate --start ... --end ...)"
            )
        without_shop = self.without_shop_line()
        if without_shop:
            lines.append(without_shop)
        if self.outside_lookback:
            lines.append(self.outside_lookback_line())
        return "\n".join(lines)

    def outside_lookback_line(self) -> str:
        files = sorted(self.outside_lookback, key=lambda f: (f.table, f.arrival_dt, f.uri))
        named = ", ".join(f"{f.table}/dt={f.arrival_dt}/{f.uri.rsplit('/', 1)[-1]}" for f in files[:5])
        more = f" and {len(files) - 5} more" if len(files) > 5 else ""
        first = min(f.arrival_dt for f in files) - timedelta(days=1)
        last = max(f.landed_at.date() for f in files)
        return (
            f"WARNING: {len(files):,d} file(s) landed in an arrival partition older than the daily runs' lookback "
            f"(CSMETRICS_LANDING_LOOKBACK_DAYS): {named}{more}. A writer must land a file in the partition of the UTC day "
            "it arrives; daily runs look for new files in their lookback only, so the daily runs since these landed did "
            "not see them. They are ingested now and count from this run on; dates already final need a restatement "
            f"(csmetrics restate --start {first} --end {last})."
        )

    def without_shop_line(self) -> str:
        """One line on the records of shops without a valid snapshot row (empty when none)."""
        tables = [t for t in self.tables.values() if t.without_shop]
        if not tables:
            return ""
        shops = sorted(set().union(*(t.shops_without_row for t in tables)))
        first = min(t.without_shop_dates[0] for t in tables)
        last = max(t.without_shop_dates[1] for t in tables)
        named = ", ".join(shops[:5]) + (f" and {len(shops) - 5} more" if len(shops) > 5 else "")
        return (
            f"WARNING: {sum(t.without_shop for t in tables):,d} record(s) of {len(shops):,d} shop(s) without a valid row in "
            f"the shops snapshot ({named}): " + ", ".join(f"{t.table} {t.without_shop:,d}" for t in tables)
            + f"; events of {first}..{last} (UTC). They are in bronze and count in no metric until the shop's row lands; "
            "then provisional dates pick them up, and dates already final need a restatement "
            f"(csmetrics restate --start {first - timedelta(days=1)} --end {last + timedelta(days=1)})."
        )


@dataclass(frozen=True)
class _NewFiles:
    """One raw table's files new to this run: what reading them found, and their records
    classified (None when no file was readable)."""

    files: list[LandedFile]
    landed: LandedRecords
    classified: DataFrame | None
    # The bronze version the records were classified against (-1: no bronze table yet).
    bronze_version: int = -1


def ingest(
    spark: SparkSession,
    settings: Settings,
    run_id: str,
    landed_by: datetime | None,
    progress=print,
    keep_appended: bool = False,
    since: date | None = None,
) -> IngestReport:
    """Ingest every landed file (landed by `landed_by`; None: all) that no earlier run ingested.

    The ingest log names each file with its landing time, so a file that lands in an
    arrival partition already read is ingested by the next run that lists it, and no file twice.

    `since`: list only the arrival partitions from that date on (a daily run's lookback,
    `csmetrics.schedule.first_partition_listed`), and read only their rows of the ingest log;
    None: every partition. When the log holds no file of those partitions (a new warehouse,
    or one resumed after a long pause), every partition is listed.

    `keep_appended`: the report holds what was appended (`IngestReport.appended`) for the
    bronze gate, which then reads no bronze; the caller releases it."""
    report = IngestReport(run_id)
    log_path = INGEST_LOG.path(settings)
    INGEST_LOG.ensure(spark, settings)
    listed = {name: landed_files(spark, settings.landing, name, landed_by, since) for name in RAW_TABLES}
    logged = _logged_files(INGEST_LOG.read(spark, settings), run_id, since, listed)
    if since is not None and not any(row["arrival_dt"] >= since for row in logged):
        progress(f"no file of the arrival partitions since {since} was ingested before: listing every arrival partition")
        listed = {name: landed_files(spark, settings.landing, name, landed_by) for name in RAW_TABLES}
        logged = _logged_files(INGEST_LOG.read(spark, settings), run_id, None, listed)
    done = {(row["source_file"], row["landed_us"]) for row in logged}
    # Tables an earlier attempt of this run (an Airflow retry) ingested files of.
    tried_before = {row["table"] for row in logged if row["run_id"] == run_id}
    report.outside_lookback = files_outside_lookback(listed, done, settings.landing_lookback_days)
    pending: dict[str, _NewFiles] = {}
    zones = known_zones(spark)
    for name, table in RAW_TABLES.items():
        files = [f for f in listed[name] if (f.uri, _micros(f.landed_at)) not in done]
        if not files:
            continue
        progress(f"ingest {name}: {len(files)} new file(s)")
        landed = read_files(spark, table, files)
        table_report = TableReport(name, files, unreadable_files=landed.unreadable, footer_records=landed.footer_records)
        classified, version = None, -1
        if landed.records is not None:
            known_shops = _known_shops(spark, settings, pending) if name != "shops" else None
            version, newest_by = _bronze_version(spark, settings, table)
            if newest_by == run_id:
                tried_before.add(name)
            existing = _existing_versions(spark, settings, table, landed.records, version)
            # Read by four steps (counts, late records, quarantine, append), so cached; on local
            # disk, because a day's batch outgrows memory, and a cache held in memory starves
            # the sorts and aggregations of execution memory (AGGREGATE_OUT_OF_MEMORY at 10
            # million messages in a 4 GB driver). It is planned without adaptive execution (see
            # `_count`): its shuffles are keyed by record ids, so a giant shop makes no skew, and
            # are sized here. With no stored keys to meet (a first load, a backfill into a new
            # warehouse) they hold the batch alone, sized by its records; otherwise also the
            # stored keys of the dates it touches (weeks of them for updated orders), as many as
            # the session's shuffle partitions.
            most = int(spark.conf.get("spark.sql.shuffle.partitions"))
            partitions = most if existing is not None else batch_partitions(sum(landed.footer_records.values()), most)
            with without_adaptive_execution(spark, partitions):
                classified = persist_on_disk(spark, classify(landed.records, table, known_shops, existing, zones))
        report.tables[name] = table_report
        pending[name] = _NewFiles(files, landed, classified, version)
    _count(pending, report)
    for name, new in pending.items():
        if new.classified is not None:
            _check_classified_every_record(report.tables[name])

    quarantine_path = QUARANTINE_TABLE.path(settings)
    QUARANTINE_TABLE.ensure(spark, settings)
    _write_quarantine(spark, settings, report, pending, run_id)
    _fail_if_too_many_invalid(report, settings, quarantine_path)
    _fail_if_unreadable(report, settings, quarantine_path)

    with commit_metadata(spark, run_id):
        for name, new in pending.items():
            if new.classified is not None and report.tables[name].inserted:
                appended = _append_to_bronze(spark, settings, RAW_TABLES[name], new.classified, new.bronze_version, run_id, report.tables[name].inserted)
                _check_appended(report.tables[name], appended)
    for name, new in pending.items():
        if not keep_appended or new.classified is None or name in tried_before:
            if new.classified is not None:
                new.classified.unpersist()
        else:
            report._held.append(new.classified)
            report.appended[name] = appended_rows(new.classified, RAW_TABLES[name], run_id, with_shop_row=True)
    if keep_appended:
        # None: the gate reads the run's rows back from bronze. So it does where this attempt
        # holds not all of them: no readable file, or an earlier attempt of the run ingested
        # files of the table (a retry after a failed gate, or after a crash once the append or
        # the log was committed), whose rows the gate must check again.
        for name in set(pending) | tried_before:
            report.appended.setdefault(name, None)
    now = datetime.now(UTC)
    log_rows = [
        (name, f.arrival_dt, f.uri, f.landed_at, run_id, now, *_file_accounting(report.tables[name], f.uri))
        for name, new in pending.items()
        for f in new.files
    ]
    if log_rows:
        # mergeSchema: ingest logs written before the accounting columns existed gain them.
        spark.createDataFrame(log_rows, INGEST_LOG_SCHEMA).write.format("delta").mode("append").option(
            "userMetadata", run_id
        ).option("mergeSchema", "true").save(log_path)
    return report


def batch_partitions(records: int, most: int) -> int:
    """The shuffle partitions of a batch of `records` landed records: one per
    RECORDS_PER_SHUFFLE_PARTITION, at least one, at most `most` (the session's shuffle partitions)."""
    return max(1, min(most, -(-records // RECORDS_PER_SHUFFLE_PARTITION)))


def persist_on_disk(spark: SparkSession, frame: DataFrame) -> DataFrame:
    """`frame` persisted on local disk, its columns not compressed. Spark compresses a
    cached frame's columns (dictionary and run-length encodings) by default, which a frame
    held in memory needs; on disk it saved little space for about a tenth of the executors'
    time in ingest (bench/RESULTS.md). Spark takes the setting when the frame is persisted,
    so the caches of other steps keep it."""
    with session_setting(spark, COLUMNAR_CACHE_COMPRESSED, "false"):
        return frame.persist(StorageLevel.DISK_ONLY)


def _logged_files(log: DataFrame, run_id: str, since: date | None, listed: dict[str, list[LandedFile]]) -> list:
    """The ingest `log`'s rows of the files that can be among `listed`, and of this run's
    earlier attempts: those of the arrival partitions from `since` on, of the misplaced files
    listed (a misplaced file's arrival date is its landing date), and of `run_id` (an attempt
    may have listed every partition); every row when `since` is None."""
    if since is not None:
        misplaced = sorted({f.uri for files in listed.values() for f in files if f.misplaced})
        wanted = (F.col("arrival_dt") >= F.lit(since)) | (F.col("run_id") == run_id)
        if misplaced:
            wanted = wanted | F.col("source_file").isin(misplaced)
        log = log.where(wanted)
    return log.select("table", "arrival_dt", "run_id", "source_file", F.unix_micros("landed_at").alias("landed_us")).collect()


def files_outside_lookback(listed: dict[str, list[LandedFile]], done: set, lookback_days: int) -> list[LandedFile]:
    """New files that landed in an arrival partition older than the lookback of the first daily
    run after their landing: against the layout's contract, and not seen by the daily runs
    until a run that lists every partition (docs/maturity.md)."""
    if lookback_days == 0:
        return []
    return [
        f
        for files in listed.values()
        for f in files
        if not f.misplaced and (f.uri, _micros(f.landed_at)) not in done
        and (first := first_partition_listed(first_run_after(f.landed_at), lookback_days)) is not None and f.arrival_dt < first
    ]


def _micros(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


def _known_shops(spark, settings, pending: dict[str, _NewFiles]) -> DataFrame:
    """Shops with a valid snapshot row: in bronze, or in this very run's snapshot (ingested
    just before). The events of other shops (a new shop not in the snapshot yet, a shop whose
    row is quarantined) go to bronze too and wait there, counted, until a valid row lands."""
    known = []
    if bronze("shops").exists(spark, settings):
        known.append(bronze("shops").read(spark, settings).select("shop_id"))
    shops = pending.get("shops")
    if shops is not None and shops.classified is not None:
        known.append(shops.classified.where(F.col("status") != QUARANTINE).select("shop_id"))
    if not known:
        return spark.createDataFrame([], "shop_id string")
    result = known[0]
    for frame in known[1:]:
        result = result.unionByName(frame)
    return result


def _event_dates(records: DataFrame, table: RawTable) -> list | None:
    """The UTC event dates of an event table's records: the bronze partitions the batch can
    touch (a tiny aggregate, not raw data; a Spark job, taken only where the bronze table
    exists). None for a table without event time (not partitioned by it)."""
    if table.event_time is None:
        return None
    return sorted(r[0] for r in records.select(F.to_date(table.event_time)).distinct().collect() if r[0] is not None)


def _bronze_version(spark, settings, table: RawTable) -> tuple[int, str | None]:
    """The current version of the table's bronze (-1 when it does not exist yet): the snapshot
    a batch is classified against, and what its append's idempotence is keyed on; and the run
    that made it."""
    path = bronze_path(settings, table.name)
    if not table_exists(spark, path):
        return -1, None
    newest = newest_commit(spark, path)
    return newest.version, newest.user_metadata


def _existing_versions(spark, settings, table: RawTable, records: DataFrame, version: int) -> DataFrame | None:
    """The version keys and row hashes bronze holds (at `version`; None when it does not exist
    yet) that the landed `records` can meet: for an event table, of their event dates only."""
    if version < 0:
        return None
    stored = bronze(table.name).read(spark, settings, versionAsOf=str(version))
    if table.is_snapshot:
        return stored.select(table.primary_key, "_landed_at", "_row_hash")
    event_dates = _event_dates(records, table)
    if event_dates is not None:
        if not event_dates:
            return None
        # Only the bronze partitions this batch can touch, never the whole history.
        stored = stored.where(F.col(EVENT_DATE).isin(event_dates))
    return stored.select(*version_key(table), "_row_hash")


def _count(pending: dict[str, _NewFiles], report: IngestReport) -> None:
    """Count every table's records by file, status and reason, the late ones, and the
    inserted records of shops without a snapshot row by shop: one small aggregate per table,
    unioned and collected once. That action classifies every table's batch (it is the first
    to read them, and persists them) in one Spark job, and each broadcast (the known shops, a
    small stored side) in one of its own: it runs without adaptive execution, which would make
    a job of each shuffle of each table (a 14-day backfill's prepare: 113 jobs with it, 81
    without; bench/RESULTS.md)."""
    counts = [_counts(new.classified, RAW_TABLES[name]).withColumn("table", F.lit(name)) for name, new in pending.items() if new.classified is not None]
    if not counts:
        return
    dates: dict[str, list] = {}
    # Each table's counts are few rows (a file's statuses and reasons, a shop without a
    # snapshot row's dates): one partition each.
    with without_adaptive_execution(counts[0].sparkSession, 1):
        rows = reduce(DataFrame.unionByName, counts).collect()
    for row in rows:
        table_report = report.tables[row["table"]]
        table_report.late_for_final += row["late"]
        if row["without_shop"] is not None:
            table_report.without_shop += row["count"]
            table_report.shops_without_row.add(row["without_shop"])
            dates.setdefault(row["table"], []).extend(d for d in (row["first"], row["last"]) if d is not None)
        table_report.by_file.setdefault(row["_source_file"], Counter())[row["status"]] += row["count"]
        table_report.landed += row["count"]
        if row["status"] == INSERT:
            table_report.inserted += row["count"]
        elif row["status"] == DUPLICATE:
            table_report.duplicates += row["count"]
        else:
            table_report.quarantined += row["count"]
            for reason in row["reason"].split("; "):
                table_report.reasons[reason.split(":", 1)[0] if reason.startswith("conflicting") else reason] += row["count"]
    for table, seen in dates.items():
        if seen:
            report.tables[table].without_shop_dates = (min(seen), max(seen))


def _counts(classified: DataFrame, table: RawTable) -> DataFrame:
    if table.event_time:
        without_shop = F.when((F.col("status") == INSERT) & F.col("_without_shop"), F.col("shop_id"))
        dates = [F.min(EVENT_DATE).alias("first"), F.max(EVENT_DATE).alias("last")]
    else:  # snapshots (agents): no event to lose
        without_shop = F.lit(None).cast("string")
        dates = [F.lit(None).cast("date").alias("first"), F.lit(None).cast("date").alias("last")]
    return classified.groupBy("_source_file", "status", "reason", without_shop.alias("without_shop")).agg(
        F.count(F.lit(1)).alias("count"), F.count_if(is_late_for_final(table)).alias("late"), *dates
    )


def _file_accounting(report: TableReport, uri: str) -> tuple[int | None, ...]:
    if uri not in report.footer_records:
        return (None, None, None, None)
    statuses = report.by_file.get(uri, Counter())
    return (report.footer_records[uri], statuses[INSERT], statuses[QUARANTINE], statuses[DUPLICATE])


def _unbalanced(table: str, what: str) -> AccountingError:
    return AccountingError(
        f"Ingest accounting does not balance for {table}: {what}. Nothing of this run reaches gold. A file rewritten "
        "in place while the run read it does this (writers must land new files under new names); re-run the date, "
        "and report it as a csmetrics bug if it repeats."
    )


def _check_classified_every_record(report: TableReport) -> None:
    """Every record a file's footer declares was classified exactly once."""
    for uri, declared in sorted(report.footer_records.items()):
        classified = sum(report.by_file.get(uri, Counter()).values())
        if classified != declared:
            raise _unbalanced(report.table, f"file {uri} declares {declared:,d} records, {classified:,d} were classified")


def _check_quarantine_written(spark: SparkSession, settings: Settings, report: IngestReport, pending: dict[str, _NewFiles]) -> None:
    """The quarantine holds exactly the run's quarantined records (and unreadable files) of
    the files read, table by table (one count of every table's)."""
    expected = {name: report.tables[name].quarantined + len(report.tables[name].unreadable_files) for name in pending}
    expected = {name: count for name, count in expected.items() if count}
    if not expected:
        return
    uris = [f.uri for name in expected for f in pending[name].files]
    rows = (
        QUARANTINE_TABLE.read(spark, settings)
        .where(F.col("table").isin(list(expected)) & F.col("source_file").isin(uris))
        .groupBy("table").count().collect()
    )
    written = {row["table"]: row["count"] for row in rows}
    for name, count in expected.items():
        if written.get(name, 0) != count:
            raise _unbalanced(name, f"{count:,d} records were quarantined, the quarantine table holds {written.get(name, 0):,d}")


def _check_appended(report: TableReport, appended: int) -> None:
    """The append wrote exactly the records classified for bronze (Delta's own metrics)."""
    if appended != report.inserted:
        raise _unbalanced(report.table, f"{report.inserted:,d} records were classified for bronze, the append wrote {appended:,d}")


def is_late_for_final(table: RawTable) -> Column:
    """A valid new record that landed after the cutoff of the last run that could still use
    it: the run for the event's latest possible local date (UTC date + 1) plus the longest
    window of the metrics reading the table. It concerns final values and changes nothing
    until a restatement (docs/maturity.md). Judged per record, by its own landing time, so
    a backfill that ingests months at once reports none of the records each day's cutoff saw."""
    horizon = recompute_horizon_days(table.name)
    if horizon is None or table.event_time is None:
        return F.lit(False)
    # cutoff(E + 1 + horizon) = E + 2 + horizon days at 00:00 UTC + DAY_COMPLETE_AFTER.
    last_use = F.date_add(EVENT_DATE, horizon + 2).cast("timestamp") + F.expr(
        f"INTERVAL {int(DAY_COMPLETE_AFTER.total_seconds())} SECONDS"
    )
    return (F.col("status") == INSERT) & (F.col("_landed_at") > last_use)


def _write_quarantine(spark, settings: Settings, report: IngestReport, pending: dict[str, _NewFiles], run_id) -> None:
    """Replace the quarantine rows of the files read, every table's in one commit (re-runs
    stay idempotent), then check that it holds exactly the run's."""
    frames, replaced = [], {}
    for name, new in pending.items():
        table_report = report.tables[name]
        if not table_report.quarantined and not table_report.unreadable_files:
            # The same files always classify the same way: no earlier attempt left rows either.
            continue
        frames += _quarantined(spark, table_report, new, run_id)
        replaced[name] = (
            f"(table = '{name}' AND "
            + sql_in("arrival_dt", sorted({f.arrival_dt for f in new.files}))
            + " AND "
            + sql_in("source_file", [f.uri for f in new.files])
            + ")"
        )
    if frames:
        # Conditions on the partition columns alone, at the top level (not only inside the OR),
        # so that Delta prunes the rows it replaces, and the commits it conflicts with, to these
        # tables' and dates' partitions.
        dates = sorted({f.arrival_dt for name in replaced for f in pending[name].files})
        partitions = sql_in("table", sorted(replaced)) + " AND " + sql_in("arrival_dt", dates)
        files = " OR ".join(replaced.values())
        replace_where(reduce(DataFrame.unionByName, frames), QUARANTINE_TABLE.path(settings), f"{partitions} AND ({files})", ["table", "arrival_dt"], run_id)
    _check_quarantine_written(spark, settings, report, pending)


def _quarantined(spark, report: TableReport, new: _NewFiles, run_id) -> list[DataFrame]:
    """The quarantine rows of one table's files: its quarantined records and unreadable files."""
    now = F.lit(datetime.now(UTC)).cast("timestamp")
    frames = []
    if new.classified is not None and report.quarantined:
        wanted = new.classified.where(F.col("status") == QUARANTINE).select(
            "_source_file",
            "_row_index",
            F.lit(report.table).alias("table"),
            F.col("_arrival_dt").alias("arrival_dt"),
            "reason",
            F.lit(run_id).alias("run_id"),
            now.alias("quarantined_at"),
        )
        uris = {uri for uri, statuses in report.by_file.items() if statuses[QUARANTINE]}
        frames.append(
            new.landed.as_landed(spark, wanted, uris, few=report.quarantined <= FEW_TO_BROADCAST).select(
                "table",
                "arrival_dt",
                F.col("_source_file").alias("source_file"),
                "reason",
                F.col("_raw_record").alias("raw_record"),
                "run_id",
                "quarantined_at",
            )
        )
    if report.unreadable_files:
        rows = [
            (f.table, f.arrival_dt, f.path, f"{f.kind}: {f.error}", None, run_id, datetime.now(UTC))
            for f in report.unreadable_files
        ]
        frames.append(spark.createDataFrame(rows, QUARANTINE_SCHEMA))
    return frames


def _fail_if_too_many_invalid(report: IngestReport, settings: Settings, quarantine_path: str) -> None:
    """Event tables fail on their share of invalid records. Snapshot tables (a few rows, one
    per shop) are judged per record: an invalid row holds back its own shop only."""
    failing = [
        t for t in report.tables.values() if not RAW_TABLES[t.table].is_snapshot and t.invalid_share > settings.max_invalid_share
    ]
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


def _fail_if_unreadable(report: IngestReport, settings: Settings, quarantine_path: str) -> None:
    """A file that cannot be read, or that lies outside the layout, is a day read
    incompletely: the run stops and names each file, unless the operator chose to publish
    without them (CSMETRICS_UNREADABLE_FILES=quarantine)."""
    skipped = [f for t in report.tables.values() for f in t.unreadable_files]
    if not skipped or settings.unreadable_files == "quarantine":
        return
    lines = []
    unreadable = [f for f in skipped if f.kind == UNREADABLE]
    if unreadable:
        lines.append(
            f"{len(unreadable)} landed file(s) cannot be read: " + "; ".join(f"{f.path}: {f.error}" for f in unreadable)
            + ". Land a complete copy under a new name (or move the file out of the landing zone)."
        )
    misplaced = [f for f in skipped if f.kind == MISPLACED]
    if misplaced:
        lines.append(
            f"{len(misplaced)} landed file(s) lie outside the layout <table>/dt=YYYY-MM-DD/<file>: "
            + "; ".join(f"{f.path} ({f.error})" for f in misplaced)
            + ". Move each into its table's arrival partition (the UTC date it arrived) or out of the landing zone."
        )
    raise InvalidInputError(
        "Ingestion stopped, so the day is not read incompletely: " + " ".join(lines) + " "
        f"Nothing was written to bronze or gold; the file(s) are recorded in {quarantine_path} (run_id = '{report.run_id}'). "
        "Then re-run this date; to publish without them, re-run with CSMETRICS_UNREADABLE_FILES=quarantine."
    )


class ConcurrentIngestError(RuntimeError):
    """Another ingest appended to a bronze table while this one classified its records."""


def appended_rows(classified: DataFrame, table: RawTable, run_id: str, with_shop_row: bool = False) -> DataFrame:
    """The classified records that go to bronze, in bronze's columns; `with_shop_row` adds
    whether an event's shop has a valid snapshot row (the bronze gate checks it)."""
    shop_row = [(~F.col("_without_shop")).alias("has_shop_row")] if with_shop_row and table.event_time else []
    return classified.where(F.col("status") == INSERT).select(
        *table.columns,
        *([EVENT_DATE] if table.event_time else []),
        "_arrival_dt",
        "_landed_at",
        "_row_hash",
        F.lit(run_id).alias("_run_id"),
        *shop_row,
    )


def _append_to_bronze(
    spark: SparkSession, settings: Settings, table: RawTable, classified: DataFrame, version: int, run_id: str, inserted: int
) -> int:
    """Append the new records in one commit; returns the rows it wrote (Delta's metrics).

    The records were classified against bronze at `version`: new, re-sent or conflicting
    relative to it. The append is a Delta idempotent write, keyed on that version (app id
    csmetrics-ingest/<table>, txn version `version` + 1), and every ingest's append carries
    the same app id. So a second ingest that classified against the same version, at once or
    after this one committed, cannot add its copy of the same records: Delta refuses the
    concurrent commit, or skips the write once this one's transaction is in the log. Either
    way the second run stops here, before its ingest log rows, and its re-run classifies
    the records against the newer bronze (duplicates of what the first wrote).

    The batch is held in the partitions it was classified in, each with records of every event
    date: written as they are, each would be a file per date. They are merged (no shuffle) to
    one per RECORDS_PER_SHUFFLE_PARTITION of the `inserted` records, as adaptive execution
    coalesced them before."""
    most = int(spark.conf.get("spark.sql.shuffle.partitions"))
    rows = appended_rows(classified, table, run_id).coalesce(batch_partitions(inserted, most))
    bronze(table.name).ensure(spark, settings)
    (
        rows.write.format("delta")
        .mode("append")
        .option("txnAppId", f"csmetrics-ingest/{table.name}")
        .option("txnVersion", version + 1)
        .option("userMetadata", run_id)
        .save(bronze_path(settings, table.name))
    )
    # The run's own commit, after the version it read (concurrent runs may have committed since).
    commits = list(takewhile(lambda c: c.version > version, log_commits(spark, bronze_path(settings, table.name))))
    own = [c for c in commits if c.operation == "WRITE" and c.user_metadata == run_id]
    if not own:
        latest = newest_commit(spark, bronze_path(settings, table.name))
        raise ConcurrentIngestError(
            f"Another ingest appended to bronze/{table.name} while this run ({run_id}) classified its records against "
            f"version {version}, so nothing of this run was appended there (bronze is at version {latest.version}, "
            f"written by {latest.user_metadata}). Re-run this date: the re-run ingests what is still missing, once."
        )
    return int(own[0].operation_metrics["numOutputRows"])
