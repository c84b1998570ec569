"""Bronze tables: the contract's columns, the UTC event date that partitions events, and
the bookkeeping columns of every stored version."""

from pyspark.sql import types as T

from csmetrics.schemas.raw import RawTable

EVENT_DATE = "event_date"
# Bookkeeping columns after the contract's: arrival partition, landing time of the file,
# content hash, the run that wrote it.
TRACKING_FIELDS = [
    T.StructField("_arrival_dt", T.DateType()),
    T.StructField("_landed_at", T.TimestampType()),
    T.StructField("_row_hash", T.StringType()),
    T.StructField("_run_id", T.StringType()),
]


def bronze_schema(table: RawTable) -> T.StructType:
    """The contract's columns, the UTC event date that partitions it (events only), tracking columns."""
    event_date = [T.StructField(EVENT_DATE, T.DateType())] if table.event_time else []
    return T.StructType(list(table.schema.fields) + event_date + TRACKING_FIELDS)
