"""Expectations for bronze/ratings.

The contract's rules: key, required columns, target, score in 1..5, rated_at >= invited_at.
"""

from __future__ import annotations

from csmetrics.expectations.bronze_contract import contract_checks, keys
from csmetrics.quality.checks import Check
from csmetrics.schemas.raw import RAW_TABLES

TABLE = RAW_TABLES["ratings"]
KEYS = keys(TABLE)


def expectations() -> list[Check]:
    return contract_checks(TABLE)
