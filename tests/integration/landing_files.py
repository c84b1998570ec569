"""Write small landing files for tests, typed by the contract schemas."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import types as T

from csmetrics.schemas.raw import RAW_TABLES

_ARROW = {
    T.StringType: pa.string(),
    T.TimestampType: pa.timestamp("us", tz="UTC"),
    T.BooleanType: pa.bool_(),
    T.DateType: pa.date32(),
    T.IntegerType: pa.int32(),
    T.LongType: pa.int64(),
}


def arrow_type(dtype):
    if isinstance(dtype, T.DecimalType):
        return pa.decimal128(dtype.precision, dtype.scale)
    if isinstance(dtype, T.ArrayType):
        return pa.list_(arrow_type(dtype.elementType))
    return _ARROW[type(dtype)]


def write_landing(
    landing: str, table: str, dt: str, rows: list[dict], name: str = "part-0", landed_at: datetime | None = None
) -> Path:
    """A landing file in arrival partition `dt` that landed at `landed_at` (its modification
    time; default: noon UTC of `dt`)."""
    schema = pa.schema([(f.name, arrow_type(f.dataType)) for f in RAW_TABLES[table].schema.fields])
    folder = Path(landing) / table / f"dt={dt}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    land(path, landed_at or datetime.combine(date.fromisoformat(dt), time(12), tzinfo=UTC))
    return path


def land(path: Path, landed_at: datetime) -> None:
    """Set when a file landed: its modification time."""
    os.utime(path, (landed_at.timestamp(), landed_at.timestamp()))
