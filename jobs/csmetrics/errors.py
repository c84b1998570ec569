"""Failures users can act on, turned into one clear message instead of a stack trace."""

from __future__ import annotations

from csmetrics.config import Settings, SettingsError
from csmetrics.ingest.run import AccountingError, InvalidInputError
from csmetrics.quality.gate import QualityGateError
from csmetrics.tables import LayoutError

# What Spark raises when a task's share of the data does not fit its memory.
OUT_OF_MEMORY_MARKERS = ("SparkOutOfMemoryError", "AGGREGATE_OUT_OF_MEMORY", "java.lang.OutOfMemoryError")


def describe(error: Exception) -> str | None:
    if isinstance(error, (AccountingError, InvalidInputError, LayoutError, QualityGateError, SettingsError)):
        return str(error)
    text = str(error)
    marker = next((m for m in OUT_OF_MEMORY_MARKERS if m in text), None)
    if marker is not None:
        return out_of_memory_advice(marker)
    return None


def out_of_memory_advice(marker: str) -> str:
    settings = Settings.from_env()
    return (
        f"Spark ran out of memory ({marker}); nothing was published. Give each task less data: "
        f"raise CSMETRICS_SHUFFLE_PARTITIONS (now {settings.shuffle_partitions}; about one per 250,000 "
        f"messages a day), or give Spark more memory: CSMETRICS_DRIVER_MEMORY (now {settings.driver_memory}) "
        "on local[*], spark.executor.memory on a cluster. Then run the same date again: re-runs are idempotent."
    )


def exit_code_of(action) -> int:
    """Run `action`; a known failure prints its one message to stderr and gives 1, success 0.
    Anything else is a bug and keeps its traceback."""
    import sys

    try:
        action()
    except Exception as error:  # noqa: BLE001 - known failures print one clear message
        message = describe(error)
        if message is None:
            raise
        print(f"csmetrics: {message}", file=sys.stderr)
        return 1
    return 0
