"""Gold tables of SPEC §5, and the bookkeeping tables beside them (quarantine, ingest log, quality results)."""

from pyspark.sql import types as T

_METRIC_COLUMNS = [
    T.StructField("metric", T.StringType(), False),
    T.StructField("segment", T.StringType(), False),
    T.StructField("numerator", T.DoubleType(), True),
    T.StructField("denominator", T.DoubleType(), True),
    T.StructField("value", T.DoubleType(), False),
    T.StructField("maturity", T.StringType(), False),
    T.StructField("final_after", T.TimestampType(), False),
    T.StructField("definition_version", T.StringType(), False),
    T.StructField("run_id", T.StringType(), False),
    T.StructField("computed_at", T.TimestampType(), False),
]

SHOP_METRICS_DAILY = T.StructType(
    [
        T.StructField("stat_date", T.DateType(), False),
        T.StructField("shop_id", T.StringType(), False),
        *_METRIC_COLUMNS,
    ]
)

AGENT_METRICS_DAILY = T.StructType(
    [
        T.StructField("stat_date", T.DateType(), False),
        T.StructField("shop_id", T.StringType(), False),
        T.StructField("agent_id", T.StringType(), False),
        *_METRIC_COLUMNS,
    ]
)

QUARANTINE = T.StructType(
    [
        T.StructField("table", T.StringType(), False),
        T.StructField("arrival_dt", T.DateType(), False),
        T.StructField("source_file", T.StringType(), True),
        T.StructField("reason", T.StringType(), False),
        T.StructField("raw_record", T.StringType(), True),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("quarantined_at", T.TimestampType(), False),
    ]
)

INGEST_LOG = T.StructType(
    [
        T.StructField("table", T.StringType(), False),
        T.StructField("arrival_dt", T.DateType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("ingested_at", T.TimestampType(), False),
    ]
)

VALIDATION_RESULTS = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("table", T.StringType(), False),
        T.StructField("expectation", T.StringType(), False),
        T.StructField("kwargs", T.StringType(), True),
        T.StructField("severity", T.StringType(), False),
        T.StructField("success", T.BooleanType(), False),
        T.StructField("unexpected_count", T.LongType(), True),
        T.StructField("observed_value", T.StringType(), True),
        T.StructField("sample", T.StringType(), True),
        T.StructField("validated_at", T.TimestampType(), False),
    ]
)

# Gold table name -> (schema, partition column, key columns).
GOLD_TABLES = {
    "shop_metrics_daily": (SHOP_METRICS_DAILY, "stat_date", ["stat_date", "shop_id", "metric", "segment"]),
    "agent_metrics_daily": (
        AGENT_METRICS_DAILY,
        "stat_date",
        ["stat_date", "shop_id", "agent_id", "metric", "segment"],
    ),
}
