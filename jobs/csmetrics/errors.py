"""Failures users can act on, turned into one clear message instead of a stack trace."""

from __future__ import annotations

from csmetrics.config import RECORDS_PER_SHUFFLE_PARTITION, Settings, SettingsError
from csmetrics.ingest.run import AccountingError, InvalidInputError
from csmetrics.quality.gate import QualityGateError
from csmetrics.tables import LayoutError

# What Spark raises when a task's share of the data does not fit its memory.
OUT_OF_MEMORY_MARKERS = (
    "SparkOutOfMemoryError", "AGGREGATE_OUT_OF_MEMORY", "java.lang.OutOfMemoryError", "Not enough memory to build and broadcast",
)


def describe(error: Exception) -> str | None:
    if isinstance(error, (AccountingError, InvalidInputError, LayoutError, QualityGateError, SettingsError)):
        return str(error)
    text = str(error)
    marker = next((m for m in OUT_OF_MEMORY_MARKERS if m in text), None)
    if marker is not None:
        return out_of_memory_advice(marker)
    if _driver_gone(error):
        # Out of heap, a task's thread kills the whole local[*] JVM: py4j only sees its socket close.
        return (
            "Spark's driver stopped in the middle of the run; it most often ran out of heap (java.lang.OutOfMemoryError "
            "above). What the step was writing was not committed. " + memory_advice()
        )
    return None


def _driver_gone(error: BaseException | None) -> bool:
    """Whether py4j lost the Spark driver's JVM, anywhere in the error's chain."""
    seen = 0
    while error is not None and seen < 10:
        if type(error).__name__ == "Py4JNetworkError":
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def out_of_memory_advice(marker: str) -> str:
    return f"Spark ran out of memory ({marker}); nothing was published. " + memory_advice()


def memory_advice() -> str:
    settings = Settings.from_env()
    return (
        "Give each task less data: "
        f"raise CSMETRICS_SHUFFLE_PARTITIONS (now {settings.shuffle_partitions}; about one per {RECORDS_PER_SHUFFLE_PARTITION:,d} "
        f"messages a day), or give Spark more memory: CSMETRICS_DRIVER_MEMORY (now {settings.driver_memory}) "
        "on local[*], spark.executor.memory on a cluster. Then run the same command again: re-runs are idempotent, "
        "and a backfill resumes at its first unfinished chunk."
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
