"""Failures users can act on, turned into one clear message instead of a stack trace."""

from __future__ import annotations

from csmetrics.ingest.run import InvalidInputError
from csmetrics.quality.gate import QualityGateError


def describe(error: Exception) -> str | None:
    if isinstance(error, (InvalidInputError, QualityGateError)):
        return str(error)
    return None


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
