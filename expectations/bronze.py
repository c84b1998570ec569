"""Expectations for every bronze table: what it owes its landing contract (schemas/raw.py,
SPEC §2). One suite, parametrised by the raw table's declaration.

Ingestion already quarantines records that break these rules, so on bronze they are a
second line of defence: a failure means a bug or a hand-made write, and blocks the run.
An empty batch of events is only a warning (an arrival partition may be legitimately
empty); an unchanged snapshot writes no row by design and is not checked for volume.
"""

from __future__ import annotations

import zoneinfo

import great_expectations.expectations as gxe

from csmetrics.ingest.classify import version_key
from csmetrics.quality.checks import WARNING, Check
from csmetrics.schemas.bronze import EVENT_DATE, bronze_schema
from csmetrics.schemas.raw import RAW_TABLES, RawTable


def expectations(table_name: str) -> list[Check]:
    """The suite of bronze/<table_name>: its contract's rules; for shops also a timezone
    Python and Spark know, since every local date is computed in it."""
    checks = contract_checks(RAW_TABLES[table_name])
    if table_name == "shops":
        zones = sorted(zoneinfo.available_timezones())
        checks.append(Check(gxe.ExpectColumnValuesToBeInSet(column="timezone", value_set=zones)))
    return checks


def contract_checks(table: RawTable) -> list[Check]:
    checks = [
        Check(gxe.ExpectTableColumnsToMatchSet(column_set=validated_columns(table), exact_match=True)),
        Check(_unique(version_key(table))),
    ]
    if not table.is_snapshot:
        checks.append(Check(gxe.ExpectTableRowCountToBeBetween(min_value=1, severity=WARNING)))
    checks += [Check(gxe.ExpectColumnValuesToNotBeNull(column=column)) for column in table.required_columns]
    checks += [
        Check(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(allowed)))
        for column, allowed in table.enums.items()
    ]
    checks += [
        Check(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high))
        for column, (low, high) in table.ranges.items()
    ]
    checks += [
        Check(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=later, column_B=earlier, or_equal=True, ignore_row_if="either_value_is_missing"
            )
        )
        for later, earlier in table.ordered_pairs
    ]
    if table.event_time:
        # A record cannot land before the UTC day it happened on: upstream clock or
        # partitioning trouble, worth a look but not a reason to hold the metrics.
        checks.append(
            Check(gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="_arrival_dt", column_B=EVENT_DATE, or_equal=True, severity=WARNING))
        )
        # An event of a shop without a valid snapshot row counts in no metric until the row
        # lands (a new shop, a quarantined row): recorded with its count, never dropped unseen.
        checks.append(Check(gxe.ExpectColumnValuesToBeInSet(column="has_shop_row", value_set=[True], severity=WARNING)))
    return checks


def validated_columns(table: RawTable) -> list[str]:
    """The columns of the rows the gate validates: bronze's, and for events `has_shop_row`
    (ingest's appended rows carry it, and quality/bronze_gate.py adds it to rows read back
    from bronze, so that every check of a table is one aggregation)."""
    return bronze_schema(table).fieldNames() + (["has_shop_row"] if table.event_time else [])


def _unique(columns: list[str]):
    if len(columns) == 1:
        return gxe.ExpectColumnValuesToBeUnique(column=columns[0])
    return gxe.ExpectCompoundColumnsToBeUnique(column_list=columns)


def keys(table_name: str) -> list[str]:
    """Columns that name a failing row of bronze/<table_name> in samples."""
    return version_key(RAW_TABLES[table_name])
