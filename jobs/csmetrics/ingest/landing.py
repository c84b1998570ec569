"""Reading the landing zone file by file, by landing time, without trusting the files.

A file's landing time (its modification time) decides which runs see it: the run for R
reads the files that had landed by its cutoff (csmetrics.schedule), whichever arrival
partition they are in and whenever the run happens.

Files are grouped by their Parquet schema and conformed to the contract: a column of
another type is cast (a value that does not cast makes its record invalid), a missing
optional column becomes null, a missing required column makes every record invalid. A file
whose footer cannot be read at all is reported whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

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


@dataclass(frozen=True)
class UnreadableFile:
    table: str
    arrival_dt: date
    path: str
    error: str


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


def landed_files(spark: SparkSession, landing: str, table: str, landed_by: datetime | None) -> list[LandedFile]:
    """Every data file of `table` that had landed by `landed_by` (None: all), oldest first.

    A file's landing time is its modification time. Arrival partitions after the cutoff's
    UTC date cannot hold such a file and are not listed. Files whose name starts with `_`
    or `.` are in-flight or markers (writers rename them when complete) and are skipped."""
    found = []
    for partition in _fs_list(spark, f"{landing}/{table}"):
        arrival_dt = _arrival_dt(partition.getPath().getName())
        if not partition.isDirectory() or arrival_dt is None:
            continue
        if landed_by is not None and arrival_dt > landed_by.date():
            continue
        found += _partition_files(spark, table, arrival_dt, partition.getPath().toString(), landed_by)
    return sorted(found, key=lambda f: (f.landed_at, f.uri))


def _partition_files(spark: SparkSession, table: str, arrival_dt: date, folder: str, landed_by: datetime | None) -> list[LandedFile]:
    """The data files of one arrival partition that had landed by `landed_by` (None: all)."""
    found = []
    for status in _fs_list(spark, folder):
        if status.isDirectory() or status.getPath().getName().startswith(("_", ".")):
            continue
        landed_at = datetime.fromtimestamp(status.getModificationTime() / 1000, UTC)
        if landed_by is None or landed_at <= landed_by:
            path = status.getPath()
            found.append(LandedFile(table, arrival_dt, path.toString(), _as_spark_reports(path), landed_at))
    return found


# The tables whose absence means a day without customer service at all.
CONVERSATION_TABLES = ("sessions", "messages")


def has_landed_for_day(spark: SparkSession, landing: str, day: date, landed_by: datetime) -> bool:
    """Whether any sessions or messages file of the local day `day` had landed by `landed_by`.

    Records of local day D arrive on UTC days D - 1 to D + 1 (UTC+14 to UTC-12); a platform
    with no outage lands files in arrival partitions D and D + 1."""
    return any(
        _partition_files(spark, table, arrival_dt, f"{landing}/{table}/dt={arrival_dt.isoformat()}", landed_by)
        for table in CONVERSATION_TABLES
        for arrival_dt in (day, day + timedelta(days=1))
    )


def read_files(
    spark: SparkSession, table: RawTable, files: list[LandedFile]
) -> tuple[DataFrame | None, list[UnreadableFile], dict[str, int]]:
    """All records of the files conformed to the contract, the files that could not be read,
    and the record count each readable file's footer declares (by URI: the accounting's
    "landed", counted without reading the data).

    Columns: the contract's, then `_arrival_dt`, `_landed_at`, `_source_file`, `_raw_record`
    and `_read_problems` (array of reasons found while conforming types).
    """
    # Files sharing an arrival date and a Parquet schema are read together. Each file's
    # footer is read in the JVM (milliseconds); Spark converts each distinct footer schema once.
    groups: dict[tuple[date, str], list[str]] = {}
    schemas = {}
    unreadable = []
    footer_rows = {}
    for landed in files:
        try:
            footer, footer_rows[landed.uri] = _footer(spark, landed.path)
            if footer not in schemas:
                schemas[footer] = spark.read.parquet(landed.path).schema
        except Exception as error:  # noqa: BLE001 - any failure to read a footer quarantines the file
            unreadable.append(UnreadableFile(table.name, landed.arrival_dt, landed.uri, _first_line(error)))
            footer_rows.pop(landed.uri, None)
            continue
        groups.setdefault((landed.arrival_dt, footer), []).append(landed.path)

    frames = []
    for (arrival_dt, key), paths in groups.items():
        raw = (
            spark.read.schema(schemas[key])
            .parquet(*paths)
            .withColumn("_source_file", F.col("_metadata.file_path"))
            .withColumn("_landed_at", F.col("_metadata.file_modification_time"))
            .withColumn("_arrival_dt", F.lit(arrival_dt))
        )
        frames.append(_conform(raw, table, schemas[key]))
    if not frames:
        return None, unreadable, footer_rows
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result, unreadable, footer_rows


def _footer(spark: SparkSession, uri: str) -> tuple[str, int]:
    """The Parquet schema in a file's footer, as text, and its record count, read through
    Hadoop's FileSystem."""
    jvm = spark._jvm
    hadoop_file = jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(
        jvm.org.apache.hadoop.fs.Path(uri), spark._jsc.hadoopConfiguration()
    )
    reader = jvm.org.apache.parquet.hadoop.ParquetFileReader.open(hadoop_file)
    try:
        return reader.getFooter().getFileMetaData().getSchema().toString(), reader.getRecordCount()
    finally:
        reader.close()


def _conform(raw: DataFrame, table: RawTable, file_schema) -> DataFrame:
    present = {f.name: f.dataType for f in file_schema.fields}
    original = [F.col(f"`{name}`") for name in present]
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
        # Kept readable in quarantine even when the record holds invalid UTF-8.
        F.make_valid_utf8(F.to_json(F.struct(*original))).alias("_raw_record"),
        F.filter(F.array(*problems, F.lit(None).cast("string")), lambda p: p.isNotNull()).alias("_read_problems"),
    )


def _first_line(error: Exception) -> str:
    """The error's own first line: for a JVM error its Java exception (`str()` of a
    Py4JJavaError names only the py4j call, "An error occurred while calling o1686.parquet")."""
    java = getattr(error, "java_exception", None)
    text = (str(java.toString()) if java is not None else str(error)).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]
