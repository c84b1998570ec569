"""Reading arrival partitions of the landing zone, file by file, without trusting them.

Files are grouped by their Parquet schema and conformed to the contract: a column of
another type is cast (a value that does not cast makes its record invalid), a missing
optional column becomes null, a missing required column makes every record invalid. A file
whose footer cannot be read at all is reported whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from csmetrics.schemas.raw import RawTable


@dataclass(frozen=True)
class ArrivalPartition:
    table: str
    arrival_dt: date
    path: str


@dataclass(frozen=True)
class UnreadableFile:
    table: str
    arrival_dt: date
    path: str
    error: str


def _fs_list(spark: SparkSession, path: str) -> list[tuple[str, bool]]:
    """(path, is_dir) under `path` through Hadoop's FileSystem, so HDFS and S3 work too."""
    jvm = spark._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(hpath):
        return []
    return [(s.getPath().toString(), s.isDirectory()) for s in fs.listStatus(hpath)]


def arrival_partitions(spark: SparkSession, landing: str, table: str, up_to: date) -> list[ArrivalPartition]:
    """The `dt=YYYY-MM-DD` folders of a table with dt <= up_to, oldest first."""
    found = []
    for path, is_dir in _fs_list(spark, f"{landing}/{table}"):
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if is_dir and name.startswith("dt="):
            try:
                dt = date.fromisoformat(name[3:])
            except ValueError:
                continue
            if dt <= up_to:
                found.append(ArrivalPartition(table, dt, path))
    return sorted(found, key=lambda p: p.arrival_dt)


def data_files(spark: SparkSession, partition: ArrivalPartition) -> list[str]:
    return sorted(
        path
        for path, is_dir in _fs_list(spark, partition.path)
        if not is_dir and not path.rsplit("/", 1)[-1].startswith(("_", "."))
    )


def read_partitions(
    spark: SparkSession, table: RawTable, partitions: list[ArrivalPartition]
) -> tuple[DataFrame | None, list[UnreadableFile]]:
    """All records of the partitions conformed to the contract, plus files that could not be read.

    Columns: the contract's, then `_arrival_dt`, `_source_file`, `_raw_record` and
    `_read_problems` (array of reasons found while conforming types).
    """
    # Files sharing an arrival date and a Parquet schema are read together.
    groups: dict[tuple[date, str], list[str]] = {}
    schemas = {}
    unreadable = []
    for partition in partitions:
        for path in data_files(spark, partition):
            try:
                schema = spark.read.parquet(path).schema
            except Exception as error:  # noqa: BLE001 - any failure to read a footer quarantines the file
                unreadable.append(UnreadableFile(table.name, partition.arrival_dt, path, _first_line(error)))
                continue
            schemas[schema.json()] = schema
            groups.setdefault((partition.arrival_dt, schema.json()), []).append(path)

    frames = []
    for (arrival_dt, key), paths in groups.items():
        raw = (
            spark.read.schema(schemas[key])
            .parquet(*paths)
            .withColumn("_source_file", F.input_file_name())
            .withColumn("_arrival_dt", F.lit(arrival_dt))
        )
        frames.append(_conform(raw, table, schemas[key]))
    if not frames:
        return None, unreadable
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result, unreadable


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
        "_source_file",
        F.to_json(F.struct(*original)).alias("_raw_record"),
        F.filter(F.array(*problems, F.lit(None).cast("string")), lambda p: p.isNotNull()).alias("_read_problems"),
    )


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]
