"""Failures users can act on, turned into one clear message instead of a stack trace."""

from __future__ import annotations

from csmetrics.ingest.run import InvalidInputError
from csmetrics.quality.gate import QualityGateError


def describe(error: Exception) -> str | None:
    if isinstance(error, (InvalidInputError, QualityGateError)):
        return str(error)
    return None
