"""Expectations for bronze/after_sales.

The contract's rules: key and version, kind, responsibility, closed_at >= created_at, non-negative wait.
"""

from __future__ import annotations

from csmetrics.expectations.bronze_contract import contract_checks, keys
from csmetrics.quality.checks import Check
from csmetrics.schemas.raw import RAW_TABLES

TABLE = RAW_TABLES["after_sales"]
KEYS = keys(TABLE)


def expectations() -> list[Check]:
    return contract_checks(TABLE)
