"""Schemas of the gold tables of SPEC §5 and of the bookkeeping tables beside them (quarantine,
ingest log, quality results). Paths, partitioning and keys: csmetrics.tables."""

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

# One row per session of a date (filtered ones flagged): the drill-down of the conversation
# metrics. A shop-day's rows sum to its counts, numerators and denominators (docs/metrics.md).
_COUNT = T.LongType()
SESSION_DETAIL_DAILY = T.StructType(
    [
        T.StructField("stat_date", T.DateType(), False),
        T.StructField("shop_id", T.StringType(), False),
        T.StructField("session_id", T.StringType(), False),
        T.StructField("buyer_id", T.StringType(), True),
        T.StructField("last_agent_id", T.StringType(), True),
        T.StructField("agent_ids", T.ArrayType(T.StringType(), True), False),
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("ended_at", T.TimestampType(), True),
        T.StructField("duration_seconds", T.DoubleType(), True),
        T.StructField("transferred_to_human_at", T.TimestampType(), True),
        T.StructField("scene_l1", T.StringType(), True),
        T.StructField("scene_l2", T.StringType(), True),
        T.StructField("scene_l3", T.StringType(), True),
        T.StructField("rating_score", T.IntegerType(), True),
        T.StructField("is_filtered", T.BooleanType(), False),
        T.StructField("is_transferred", T.BooleanType(), False),
        T.StructField("is_received", T.BooleanType(), False),
        T.StructField("unassigned_in_business_hours", T.BooleanType(), True),
        *[
            T.StructField(name, _COUNT, True)
            for name in (
                "buyer_messages", "human_messages", "bot_messages", "system_messages", "human_phase_buyer_messages",
                "counted_3min_messages", "replied_3min_messages", "unreplied_3min_messages",
            )
        ],
        T.StructField("response_seconds_sum", T.DoubleType(), True),
        T.StructField("replied_messages", _COUNT, True),
        T.StructField("round_response_seconds_sum", T.DoubleType(), True),
        T.StructField("replied_rounds", _COUNT, True),
        T.StructField("slow_rounds", _COUNT, True),
        T.StructField("reply_3min_session", T.IntegerType(), True),
        T.StructField("first_response_seconds", T.DoubleType(), True),
        T.StructField("wait_seconds", T.DoubleType(), True),
        T.StructField("reception_seconds", T.DoubleType(), True),
        T.StructField("decides_reply_rate", T.BooleanType(), False),
        T.StructField("buyer_replied", T.BooleanType(), False),
        T.StructField("maturity", T.StringType(), False),
        T.StructField("final_after", T.TimestampType(), False),
        T.StructField("definition_version", T.StringType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("computed_at", T.TimestampType(), False),
    ]
)

# Per shop, date and consultation scene (levels 1-3): the scene metrics (docs/metrics.md,
# "Scene metrics"). `scene` is the path of labels down to `scene_level` ("aftersale / refund");
# scene_l1..l3 repeat it column by column, null below the level.
_SCENE_KEY_COLUMNS = [
    T.StructField("scene_level", T.IntegerType(), False),
    T.StructField("scene", T.StringType(), False),
    T.StructField("scene_l1", T.StringType(), False),
    T.StructField("scene_l2", T.StringType(), True),
    T.StructField("scene_l3", T.StringType(), True),
]
SCENE_METRICS_DAILY = T.StructType(
    [
        T.StructField("stat_date", T.DateType(), False),
        T.StructField("shop_id", T.StringType(), False),
        *_SCENE_KEY_COLUMNS,
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

# One row per ingested landing file: a file is identified by its URI and landing time.
INGEST_LOG = T.StructType(
    [
        T.StructField("table", T.StringType(), False),
        T.StructField("arrival_dt", T.DateType(), False),
        T.StructField("source_file", T.StringType(), False),
        T.StructField("landed_at", T.TimestampType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("ingested_at", T.TimestampType(), False),
        # The file's accounting: records in its footer = bronze + quarantined + duplicates
        # (null for a file that could not be read).
        T.StructField("landed_records", T.LongType(), True),
        T.StructField("bronze_records", T.LongType(), True),
        T.StructField("quarantined_records", T.LongType(), True),
        T.StructField("duplicate_records", T.LongType(), True),
    ]
)

# Shop-days the gold gate held back from publication, with the failed rules.
HELD_BACK = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("stat_date", T.DateType(), False),
        T.StructField("shop_id", T.StringType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("held_at", T.TimestampType(), False),
    ]
)

# The slices of held-back shop-days that were due to become final: later runs retry them
# until they publish (settlement "published") or an operator accepts them ("released").
UNFINISHED = T.StructType(
    [
        T.StructField("stat_date", T.DateType(), False),
        T.StructField("shop_id", T.StringType(), False),
        T.StructField("metric", T.StringType(), False),
        T.StructField("held_by", T.StringType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("held_at", T.TimestampType(), False),
        T.StructField("settled_by", T.StringType(), True),
        T.StructField("settlement", T.StringType(), True),
        T.StructField("settled_at", T.TimestampType(), True),
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

_RUN_COLUMNS = [
    T.StructField("maturity", T.StringType(), False),
    T.StructField("run_id", T.StringType(), False),
    T.StructField("computed_at", T.TimestampType(), False),
]

SHOP_METRICS_WEEKLY = T.StructType(
    [
        T.StructField("week_start", T.DateType(), False),
        T.StructField("shop_id", T.StringType(), False),
        T.StructField("metric", T.StringType(), False),
        T.StructField("segment", T.StringType(), False),
        T.StructField("numerator", T.DoubleType(), True),
        T.StructField("denominator", T.DoubleType(), True),
        T.StructField("value", T.DoubleType(), False),
        T.StructField("days_with_data", T.IntegerType(), False),
        *_RUN_COLUMNS,
    ]
)

SHOP_METRICS_MONTHLY = T.StructType(
    [
        T.StructField("month_start", T.DateType(), False),
        *SHOP_METRICS_WEEKLY.fields[1:],
    ]
)

# Every day, week and month of the shop rows with its change over the period before (环比):
# the trend series (csmetrics.derived.trends) as a table.
SHOP_METRIC_TRENDS = T.StructType(
    [
        T.StructField("grain", T.StringType(), False),
        T.StructField("period_start", T.DateType(), False),
        T.StructField("shop_id", T.StringType(), False),
        T.StructField("metric", T.StringType(), False),
        T.StructField("segment", T.StringType(), False),
        T.StructField("value", T.DoubleType(), False),
        T.StructField("previous_value", T.DoubleType(), True),
        T.StructField("change", T.DoubleType(), True),
        *_RUN_COLUMNS,
    ]
)

GOVERNANCE_WEEKLY = T.StructType(
    [
        T.StructField("week_start", T.DateType(), False),
        T.StructField("shop_id", T.StringType(), False),
        T.StructField("metric", T.StringType(), False),
        T.StructField("comparison", T.StringType(), False),
        T.StructField("threshold", T.DoubleType(), False),
        T.StructField("value", T.DoubleType(), True),
        # pass / fail / no_data (the shop had no value for the metric that week).
        T.StructField("status", T.StringType(), False),
        # pass when every threshold passes, fail when one fails, no_data otherwise.
        T.StructField("overall_status", T.StringType(), False),
        *_RUN_COLUMNS,
    ]
)

PEER_BENCHMARKS_DAILY = T.StructType(
    [
        T.StructField("platform", T.StringType(), False),
        T.StructField("category", T.StringType(), False),
        T.StructField("tier", T.StringType(), False),
        T.StructField("stat_date", T.DateType(), False),
        T.StructField("metric", T.StringType(), False),
        T.StructField("segment", T.StringType(), False),
        T.StructField("direction", T.StringType(), False),
        T.StructField("peer_shops", T.LongType(), False),
        T.StructField("peer_average", T.DoubleType(), False),
        T.StructField("peer_excellent", T.DoubleType(), False),
        *_RUN_COLUMNS,
    ]
)

# Peer average and excellent per scene: PEER_BENCHMARKS_DAILY's columns with the scene's.
SCENE_BENCHMARKS_DAILY = T.StructType(
    [
        *PEER_BENCHMARKS_DAILY.fields[:4],
        *_SCENE_KEY_COLUMNS,
        *PEER_BENCHMARKS_DAILY.fields[4:],
    ]
)

LEADERBOARD_DAILY = T.StructType(
    [
        T.StructField("platform", T.StringType(), False),
        T.StructField("category", T.StringType(), False),
        T.StructField("stat_date", T.DateType(), False),
        T.StructField("metric", T.StringType(), False),
        T.StructField("rank", T.IntegerType(), False),
        T.StructField("shop_id", T.StringType(), False),
        T.StructField("value", T.DoubleType(), False),
        T.StructField("percentile", T.DoubleType(), False),
        T.StructField("ranked_shops", T.LongType(), False),
        *_RUN_COLUMNS,
    ]
)

# The service experience score (docs/derived.md): per shop and date, a row per indicator and
# a row `score`, over the trailing 30 local days.
EXPERIENCE_SCORE_DAILY = T.StructType(
    [
        T.StructField("stat_date", T.DateType(), False),
        T.StructField("shop_id", T.StringType(), False),
        # An indicator's metric id, or `score`.
        T.StructField("indicator", T.StringType(), False),
        T.StructField("platform", T.StringType(), False),
        T.StructField("category", T.StringType(), False),
        # Σ numerators and Σ denominators of the shop's daily rows over [D - 29, D] (null: score).
        T.StructField("numerator", T.DoubleType(), True),
        T.StructField("denominator", T.DoubleType(), True),
        # The indicator's value over the window, or the score (0-100); null without data or score.
        T.StructField("value", T.DoubleType(), True),
        T.StructField("direction", T.StringType(), False),
        T.StructField("weight", T.DoubleType(), True),
        # Supported peers of the shop's platform and category, the shop among them.
        T.StructField("peer_shops", T.LongType(), True),
        # 100 x the share of those peers whose value is not better than the shop's.
        T.StructField("points", T.DoubleType(), True),
        T.StructField("peer_excellent", T.DoubleType(), True),
        # Score points the shop would gain if this indicator reached peer excellent.
        T.StructField("lift_to_excellent", T.DoubleType(), True),
        T.StructField("scored_indicators", T.IntegerType(), False),
        # Why a row has no points or no score (null when it has).
        T.StructField("reason", T.StringType(), True),
        *_RUN_COLUMNS,
    ]
)

# A day's value worse than both the shop's own recent days and its peers (docs/derived.md,
# "Alerts"): one row per alert.
METRIC_ALERTS_DAILY = T.StructType(
    [
        T.StructField("stat_date", T.DateType(), False),
        T.StructField("shop_id", T.StringType(), False),
        # A metric id, or `experience_score`.
        T.StructField("metric", T.StringType(), False),
        T.StructField("segment", T.StringType(), False),
        T.StructField("value", T.DoubleType(), False),
        # The median of the shop's previous 28 days with support, and the day's robust z-score.
        T.StructField("baseline", T.DoubleType(), False),
        T.StructField("z", T.DoubleType(), False),
        T.StructField("history_days", T.IntegerType(), False),
        # The peers' average (P60, or P40 where lower is better) and the shop's share of peers
        # not better than it, among the supported shops of its peer benchmark group (platform,
        # category and tier; for the score, platform and category).
        T.StructField("peer_average", T.DoubleType(), False),
        T.StructField("peer_percentile", T.DoubleType(), False),
        T.StructField("peer_shops", T.LongType(), False),
        # warn or critical.
        T.StructField("severity", T.StringType(), False),
        # The day against the day before, split into numerator and denominator effects as
        # `csmetrics explain` splits it.
        T.StructField("explanation", T.StringType(), False),
        *_RUN_COLUMNS,
    ]
)

# After each step that writes gold, the Delta version of each table that holds its result
# (csmetrics.commits).
RUN_COMMITS = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("step", T.StringType(), False),
        T.StructField("table", T.StringType(), False),
        T.StructField("version", T.LongType(), False),
        T.StructField("recorded_at", T.TimestampType(), False),
        # A publish's: the landing time up to which its run read the files (its cutoff). Null
        # for a restatement's, for other steps, and in rows an older csmetrics recorded.
        T.StructField("landed_by", T.TimestampType(), True),
    ]
)

BACKFILL_CHUNKS = T.StructType(
    [
        T.StructField("backfill_id", T.StringType(), False),
        T.StructField("chunk_first", T.DateType(), False),
        T.StructField("chunk_last", T.DateType(), False),
        T.StructField("finished_at", T.TimestampType(), False),
    ]
)
