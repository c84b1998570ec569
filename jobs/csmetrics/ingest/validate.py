"""Record-level validity rules of SPEC §2 "Bad input", as one pure transform."""

from __future__ import annotations

from collections.abc import Collection
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from csmetrics.schemas.raw import RawTable

Rule = tuple[Column, str]


def broken_rules(table: RawTable, zones: Collection[str] = ()) -> list[Rule]:
    """One (condition, reason) per rule: the record breaks the rule where the condition is
    true (null counts as not broken).

    `zones` are the timezone names a timezone column may hold (`timezones.known_zones`)."""
    rules: list[Rule] = []
    for column in table.string_columns:
        # Parquet strings are bytes: invalid UTF-8 would reach bronze and break its readers.
        rules.append((~F.is_valid_utf8(column), f"invalid_utf8:{column}"))
    for column in table.string_array_columns:
        rules.append((F.exists(column, lambda text: ~F.is_valid_utf8(text)), f"invalid_utf8:{column}"))
    for column in table.required_columns:
        rules.append((F.col(column).isNull(), f"null_required:{column}"))
    for column, allowed in table.enums.items():
        rules.append((F.col(column).isNotNull() & ~F.col(column).isin(*allowed), f"bad_enum:{column}"))
    for column in table.timezone_columns:
        rules.append((F.col(column).isNotNull() & ~F.col(column).isin(*zones), f"unknown_timezone:{column}"))
    for later, earlier in table.ordered_pairs:
        rules.append((F.col(later) < F.col(earlier), f"contradiction:{later}<{earlier}"))
    for column, (low, high) in table.ranges.items():
        if low is not None:
            rules.append((F.col(column) < low, f"out_of_range:{column}"))
        if high is not None:
            rules.append((F.col(column) > high, f"out_of_range:{column}"))
    return rules


def with_validity(records: DataFrame, table: RawTable, zones: Collection[str] = ()) -> DataFrame:
    """Add `_valid` (the record breaks no rule and had no read problem) and `reasons`
    (array<string>, read problems first), built only for the invalid records: null for the
    valid ones, which are nearly all of a day."""
    rules = broken_rules(table, zones)
    broken = reduce(Column.__or__, (F.coalesce(condition, F.lit(False)) for condition, _ in rules), F.lit(False))
    found = F.filter(F.array(*[F.when(condition, F.lit(reason)) for condition, reason in rules]), lambda r: r.isNotNull())
    checked = records.withColumn("_valid", (F.size("_read_problems") == 0) & ~broken)
    return checked.withColumn("reasons", F.when(~F.col("_valid"), F.array_distinct(F.concat(F.col("_read_problems"), found))))
