"""Expectations for bronze/shops.

The contract's rules, and a timezone Spark knows: every local date is computed in it.
"""

from __future__ import annotations

import zoneinfo

import great_expectations.expectations as gxe

from csmetrics.expectations.bronze_contract import contract_checks, keys
from csmetrics.quality.checks import CRITICAL, Check
from csmetrics.schemas.raw import RAW_TABLES

TABLE = RAW_TABLES["shops"]
KEYS = keys(TABLE)


def expectations() -> list[Check]:
    return contract_checks(TABLE) + [
        Check(gxe.ExpectColumnValuesToBeInSet(column="timezone", value_set=sorted(zoneinfo.available_timezones())), CRITICAL),
    ]
