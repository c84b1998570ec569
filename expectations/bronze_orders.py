"""Expectations for bronze/orders.

The contract's rules: key and version, required columns, non-negative amount and item_count, paid_at >= created_at.
"""

from __future__ import annotations

from csmetrics.expectations.bronze_contract import contract_checks, keys
from csmetrics.quality.checks import Check
from csmetrics.schemas.raw import RAW_TABLES

TABLE = RAW_TABLES["orders"]
KEYS = keys(TABLE)


def expectations() -> list[Check]:
    return contract_checks(TABLE)
