"""Expectations for bronze/complaints.

The contract's rules: key, required columns, kind, arrival after the event.
"""

from __future__ import annotations

from csmetrics.expectations.bronze_contract import contract_checks, keys
from csmetrics.quality.checks import Check
from csmetrics.schemas.raw import RAW_TABLES

TABLE = RAW_TABLES["complaints"]
KEYS = keys(TABLE)


def expectations() -> list[Check]:
    return contract_checks(TABLE)
