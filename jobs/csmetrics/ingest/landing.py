"""Reading the landing zone file by file, by landing time, without trusting the files.

A file's landing time (its modification time) decides which runs see it: the run for R
reads the files that had landed by its cutoff (csmetrics.schedule) in the arrival
partitions it lists (`since`), whenever the run happens.

Files are grouped by their Parquet schema and conformed to the contract: a column of
another type is cast (a value that does not cast makes its record invalid), a missing
optional column becomes null, a missing required column makes every record invalid. A file
whose footer cannot be read at all is reported whole.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import reduce

from py4j.java_gateway import JavaClass, JavaObject
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from csmetrics.schemas.raw import RawTable


@dataclass(frozen=True)
class LandedFile:
    """One landed file: its arrival partition, its path, its URI as Spark reports it (the
    file's identity in the ingest log and the quarantine), and when it landed."""

    table: str
    arrival_dt: date
    path: str
    uri: str
    # The file's modification time in the landing zone (UTC): when it landed.
    landed_at: datetime
    # Why a file outside the layout <table>/dt=YYYY-MM-DD/<file> is not read (None: it is in it).
    misplaced: str | None = None


# What is wrong with a landed file that is not read: its reason in the quarantine.
UNREADABLE, MISPLACED = "unreadable_file", "misplaced_file"


@dataclass(frozen=True)
class UnreadableFile:
    """A landed file whose records are not read: it cannot be read, or it lies outside the
    layout. It is quarantined whole (or stops the run, CSMETRICS_UNREADABLE_FILES)."""

    table: str
    arrival_dt: date
    path: str
    error: str
    kind: str = UNREADABLE


def _fs_list(spark: SparkSession, path: str):
    """Hadoop FileStatus entries under `path`, so HDFS and S3 work too."""
    jvm = spark._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(hpath):
        return []
    return list(fs.listStatus(hpath))


def _arrival_dt(name: str) -> date | None:
    if not name.startswith("dt="):
        return None
    try:
        return date.fromisoformat(name[3:])
    except ValueError:
        return None


def _as_spark_reports(path) -> str:
    """A Hadoop path written as Spark's `_metadata.file_path` writes it (URL-encoded; local
    files as `file:/…`, not `file:///…`), so that quarantined records and the ingest log
    name a file the same way."""
    uri = path.toUri().toString()
    return "file:/" + uri[len("file:///"):] if uri.startswith("file:///") else uri


def _hidden(status) -> bool:
    """In flight or a marker: writers rename files when complete (`_SUCCESS`, `.part`, `_temporary/`)."""
    return status.getPath().getName().startswith(("_", "."))


def landed_files(
    spark: SparkSession, landing: str, table: str, landed_by: datetime | None, since: date | None = None
) -> list[LandedFile]:
    """Every file under `<landing>/<table>/` that had landed by `landed_by` (None: all), oldest first.

    A file's landing time is its modification time. Data files lie in arrival partitions
    `dt=YYYY-MM-DD`; arrival partitions after the cutoff's UTC date cannot hold a file landed
    by it and are not listed, nor are those before `since` (None: every one; a daily run's
    lookback, `csmetrics.schedule.first_partition_listed`). Any other file (directly under the table, in a folder of
    another name, in a sub-folder of a partition) is returned too, `misplaced`, with its
    landing date as its arrival date, so that it is reported by name rather than skipped
    (SPEC §2: every landed record ends in exactly one place). Files and folders whose name
    starts with `_` or `.` are in flight or markers and are skipped."""
    found = []
    for entry in _fs_list(spark, f"{landing}/{table}"):
        if _hidden(entry):
            continue
        arrival_dt = _arrival_dt(entry.getPath().getName()) if entry.isDirectory() else None
        if arrival_dt is None:
            where = f"not in an arrival partition {table}/dt=YYYY-MM-DD/"
            found += _files_below(spark, table, entry, landed_by, where)
            continue
        if (landed_by is not None and arrival_dt > landed_by.date()) or (since is not None and arrival_dt < since):
            continue
        for status in _fs_list(spark, entry.getPath().toString()):
            if _hidden(status):
                continue
            if status.isDirectory():
                where = f"in a sub-folder of the arrival partition {table}/dt={arrival_dt}/"
                found += _files_below(spark, table, status, landed_by, where)
            elif landed_by is None or _landed_at(status) <= landed_by:
                found.append(_landed(table, arrival_dt, status))
    return sorted(found, key=lambda f: (f.landed_at, f.uri))


def _landed_at(status) -> datetime:
    return datetime.fromtimestamp(status.getModificationTime() / 1000, UTC)


def _landed(table: str, arrival_dt: date, status, misplaced: str | None = None) -> LandedFile:
    path = status.getPath()
    return LandedFile(table, arrival_dt, path.toString(), _as_spark_reports(path), _landed_at(status), misplaced)


def _files_below(spark: SparkSession, table: str, status, landed_by: datetime | None, where: str) -> list[LandedFile]:
    """The files at or below `status` (a file or a folder) landed by `landed_by`, misplaced `where`."""
    if not status.isDirectory():
        landed_at = _landed_at(status)
        return [_landed(table, landed_at.date(), status, where)] if landed_by is None or landed_at <= landed_by else []
    return [f for child in _fs_list(spark, status.getPath().toString()) if not _hidden(child) for f in _files_below(spark, table, child, landed_by, where)]


def _partition_files(spark: SparkSession, table: str, arrival_dt: date, folder: str, landed_by: datetime | None) -> list[LandedFile]:
    """The data files of one arrival partition that had landed by `landed_by` (None: all)."""
    return [
        _landed(table, arrival_dt, status)
        for status in _fs_list(spark, folder)
        if not status.isDirectory() and not _hidden(status) and (landed_by is None or _landed_at(status) <= landed_by)
    ]


# The tables whose absence means a day without customer service at all.
CONVERSATION_TABLES = ("sessions", "messages")


def has_landed_for_day(spark: SparkSession, landing: str, day: date, landed_by: datetime | None) -> bool:
    """Whether any sessions or messages file of the local day `day` had landed by `landed_by`.

    Records of local day D arrive on UTC days D - 1 to D + 1 (UTC+14 to UTC-12); a platform
    with no outage lands files in arrival partitions D and D + 1."""
    return any(
        _partition_files(spark, table, arrival_dt, f"{landing}/{table}/dt={arrival_dt.isoformat()}", landed_by)
        for table in CONVERSATION_TABLES
        for arrival_dt in (day, day + timedelta(days=1))
    )


# An arrival partition's usual name, dt=YYYY-MM-DD: its date is read from the name where the
# record lies (what `date.fromisoformat` made of it when the folder was listed).
_USUAL_FOLDER = re.compile(r"dt=[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits, the same to Python and Java


@dataclass(frozen=True)
class _SchemaGroup:
    """Files sharing one Parquet schema, whatever their arrival partitions: read by one scan."""

    files: tuple[LandedFile, ...]
    schema: StructType

    def read(self, spark: SparkSession) -> DataFrame:
        """Their records as the files hold them, with each record's file and position, and its
        file's arrival partition: the folder the file lies in (every file read lies directly
        in one, `<table>/dt=<date>/`)."""
        folder = F.substring_index(F.substring_index("_source_file", "/", -2), "/", 1)
        arrival_dt = F.when(folder.rlike(f"^{_USUAL_FOLDER.pattern}$"), F.try_to_date(F.substring(folder, 4, 10), "yyyy-MM-dd"))
        # Other names the listing accepted (dt=20260304): few, looked up among these files'.
        others = {name: f.arrival_dt for f in self.files if not _USUAL_FOLDER.fullmatch(name := _folder(f.uri))}
        if others:
            arrival_dt = F.coalesce(arrival_dt, F.element_at(F.create_map(*[F.lit(v) for item in sorted(others.items()) for v in item]), folder))
        # LandedFile.uri is written as `_source_file` is: a record without a date is a fault of
        # this code, and stops the read rather than leave the date null.
        unknown = F.raise_error(F.concat(F.lit("csmetrics bug: no arrival partition for "), F.col("_source_file")))
        return (
            spark.read.schema(self.schema)
            .parquet(*[f.path for f in self.files])
            .withColumn("_source_file", F.col("_metadata.file_path"))
            .withColumn("_row_index", F.col("_metadata.row_index"))
            .withColumn("_landed_at", F.col("_metadata.file_modification_time"))
            .withColumn("_arrival_dt", F.coalesce(arrival_dt, unknown.cast("date")))
        )


def _folder(uri: str) -> str:
    """The name of the folder a file lies in, from its URI (as `_source_file` holds it)."""
    return uri.rsplit("/", 2)[-2]


@dataclass(frozen=True)
class LandedRecords:
    """What `read_files` found: every readable record conformed to the contract (`records`,
    None when no file was readable), the files that could not be read, and the record count
    each readable file's footer declares (by URI: the accounting's "landed", counted without
    reading the data)."""

    records: DataFrame | None
    unreadable: list[UnreadableFile]
    footer_records: dict[str, int]
    groups: tuple[_SchemaGroup, ...] = ()

    def as_landed(self, spark: SparkSession, wanted: DataFrame, uris: set[str], few: bool) -> DataFrame:
        """`wanted` (rows keyed by `_source_file` and `_row_index`, from files among `uris`)
        with `_raw_record`: the record as it landed, as JSON text, readable even when it holds
        invalid UTF-8. Only these records are serialised, not the whole batch; `few` says
        `wanted` is small enough to broadcast to the scans."""
        keyed = F.broadcast(wanted) if few else wanted
        frames = []
        for group in self.groups:
            files = tuple(f for f in group.files if f.uri in uris)
            if not files:
                continue
            landed = _SchemaGroup(files, group.schema).read(spark).select(
                "_source_file", "_row_index", F.struct(*[F.col(f"`{name}`") for name in group.schema.fieldNames()]).alias("_landed")
            )
            frames.append(
                landed.join(keyed, ["_source_file", "_row_index"]).select(
                    *wanted.columns, F.make_valid_utf8(F.to_json("_landed")).alias("_raw_record")
                )
            )
        if not frames:
            return wanted.withColumn("_raw_record", F.lit(None).cast("string"))
        return reduce(DataFrame.unionByName, frames)


def read_files(spark: SparkSession, table: RawTable, files: list[LandedFile]) -> LandedRecords:
    """The records of the files conformed to the contract, with the columns `_arrival_dt`,
    `_landed_at`, `_source_file`, `_row_index` (the record's position in its file) and
    `_read_problems` (array of reasons found while conforming types).

    The records as they landed are not kept beside them: the few that are quarantined are
    read again from their files (`LandedRecords.as_landed`)."""
    # Files sharing a Parquet schema are read together, by one scan whatever their arrival
    # partitions (a backfill reads weeks of them). Each file's footer is read in the JVM
    # (milliseconds); Spark converts each distinct footer schema once.
    files_by_group: dict[str, list[LandedFile]] = {}
    schemas = {}
    converter = _schema_converter(spark)
    read_footer = _FooterReader(spark)
    unreadable = []
    footer_rows = {}
    for landed in files:
        if landed.misplaced:
            unreadable.append(UnreadableFile(table.name, landed.arrival_dt, landed.uri, landed.misplaced, MISPLACED))
            continue
        try:
            footer, footer_rows[landed.uri], metadata = read_footer(landed.path)
            if footer not in schemas:
                schemas[footer] = _spark_schema(spark, converter, landed.path, metadata)
        except Exception as error:  # noqa: BLE001 - any failure to read a footer quarantines the file
            unreadable.append(UnreadableFile(table.name, landed.arrival_dt, landed.uri, _first_line(error)))
            footer_rows.pop(landed.uri, None)
            continue
        files_by_group.setdefault(footer, []).append(landed)

    groups = tuple(_SchemaGroup(tuple(grouped), schemas[footer]) for footer, grouped in files_by_group.items())
    frames = [_conform(group.read(spark), table, group.schema) for group in groups]
    records = reduce(DataFrame.unionByName, frames) if frames else None
    return LandedRecords(records, unreadable, footer_rows, groups)


class _FooterReader:
    """Reads a file's Parquet footer through Hadoop's FileSystem: its schema as text, its
    record count, and the footer itself.

    Spark's own footer reader reads the footer alone: about 1 ms a local file, where opening a
    `ParquetFileReader` for it took about 8 ms. The JVM classes and the configuration are looked
    up once: py4j resolves a class name by a round trip per package level."""

    def __init__(self, spark: SparkSession):
        jvm = spark._jvm
        reader = jvm.org.apache.spark.sql.execution.datasources.parquet.ParquetFooterReader
        if not isinstance(reader, JavaClass):
            # py4j names a missing class a package: every file would seem unreadable.
            raise RuntimeError("csmetrics bug: this Spark has no ParquetFooterReader to read landed files' footers")
        self._read = reader.readFooter
        self._input_file = jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromPath
        self._path = jvm.org.apache.hadoop.fs.Path
        self._whole_footer = jvm.org.apache.parquet.format.converter.ParquetMetadataConverter.NO_FILTER
        self._configuration = spark._jsc.hadoopConfiguration()

    def __call__(self, uri: str) -> tuple[str, int, JavaObject]:
        metadata = self._read(self._input_file(self._path(uri), self._configuration), self._whole_footer)
        row_groups = metadata.getBlocks()
        records = sum(row_groups.get(i).getRowCount() for i in range(row_groups.size()))
        return metadata.getFileMetaData().getSchema().toString(), records, metadata


def _schema_converter(spark: SparkSession) -> JavaObject:
    """Spark's converter of Parquet footer schemas, under the session's Parquet settings."""
    parquet = spark._jvm.org.apache.spark.sql.execution.datasources.parquet
    return parquet.ParquetToSparkSchemaConverter(spark._jsparkSession.sessionState().conf())


def _spark_schema(spark: SparkSession, converter: JavaObject, uri: str, metadata: JavaObject) -> StructType:
    """The schema `spark.read.parquet(uri).schema` infers, from the footer already read, without
    the Spark job that inference starts (one per distinct footer of every run). The reader is
    still asked, with that schema: it makes every column nullable and refuses a file with
    duplicate or unreadable columns, as inference did (no job: one path is listed on the driver)."""
    jvm = spark._jvm
    footer = jvm.org.apache.parquet.hadoop.Footer(jvm.org.apache.hadoop.fs.Path(uri), metadata)
    converted = jvm.org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat.readSchemaFromFooter(footer, converter)
    return spark.read.schema(StructType.fromJson(json.loads(converted.json()))).parquet(uri).schema


def _conform(raw: DataFrame, table: RawTable, file_schema) -> DataFrame:
    present = {f.name: f.dataType for f in file_schema.fields}
    columns: list[Column] = []
    problems: list[Column] = []
    for field in table.schema.fields:
        if field.name not in present:
            columns.append(F.lit(None).cast(field.dataType).alias(field.name))
            if not field.nullable:
                problems.append(F.lit(f"missing_column:{field.name}"))
        elif present[field.name] == field.dataType:
            columns.append(F.col(field.name))
        else:
            cast = F.col(field.name).try_cast(field.dataType)
            columns.append(cast.alias(field.name))
            problems.append(
                F.when(F.col(field.name).isNotNull() & cast.isNull(), F.lit(f"bad_type:{field.name}"))
            )
    return raw.select(
        *columns,
        "_arrival_dt",
        "_landed_at",
        "_source_file",
        "_row_index",
        F.filter(F.array(*problems, F.lit(None).cast("string")), lambda p: p.isNotNull()).alias("_read_problems"),
    )


def _first_line(error: Exception) -> str:
    """The error's own first line: for a JVM error its Java exception (`str()` of a
    Py4JJavaError names only the py4j call, "An error occurred while calling o1686.parquet")."""
    java = getattr(error, "java_exception", None)
    text = (str(java.toString()) if java is not None else str(error)).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]
