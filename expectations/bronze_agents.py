"""Expectations for bronze/agents.

The contract's rules: key, required columns, agent_kind.
"""

from __future__ import annotations

from csmetrics.expectations.bronze_contract import contract_checks, keys
from csmetrics.quality.checks import Check
from csmetrics.schemas.raw import RAW_TABLES

TABLE = RAW_TABLES["agents"]
KEYS = keys(TABLE)


def expectations() -> list[Check]:
    return contract_checks(TABLE)
