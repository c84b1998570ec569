"""Record-level validity rules of SPEC §2 "Bad input", as one pure transform."""

from __future__ import annotations

from collections.abc import Collection

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from csmetrics.schemas.raw import RawTable


def invalid_reasons(table: RawTable, zones: Collection[str] = ()) -> list[Column]:
    """One nullable reason per rule; a record is valid when all are null.

    `zones` are the timezone names a timezone column may hold (`timezones.known_zones`)."""
    rules: list[Column] = []
    for column in table.string_columns:
        # Parquet strings are bytes: invalid UTF-8 would reach bronze and break its readers.
        rules.append(F.when(~F.is_valid_utf8(column), F.lit(f"invalid_utf8:{column}")))
    for column in table.string_array_columns:
        rules.append(F.when(F.exists(column, lambda text: ~F.is_valid_utf8(text)), F.lit(f"invalid_utf8:{column}")))
    for column in table.required_columns:
        rules.append(F.when(F.col(column).isNull(), F.lit(f"null_required:{column}")))
    for column, allowed in table.enums.items():
        rules.append(
            F.when(F.col(column).isNotNull() & ~F.col(column).isin(*allowed), F.lit(f"bad_enum:{column}"))
        )
    for column in table.timezone_columns:
        rules.append(F.when(F.col(column).isNotNull() & ~F.col(column).isin(*zones), F.lit(f"unknown_timezone:{column}")))
    for later, earlier in table.ordered_pairs:
        rules.append(F.when(F.col(later) < F.col(earlier), F.lit(f"contradiction:{later}<{earlier}")))
    for column, (low, high) in table.ranges.items():
        if low is not None:
            rules.append(F.when(F.col(column) < low, F.lit(f"out_of_range:{column}")))
        if high is not None:
            rules.append(F.when(F.col(column) > high, F.lit(f"out_of_range:{column}")))
    return rules


def with_invalid_reasons(records: DataFrame, table: RawTable, zones: Collection[str] = ()) -> DataFrame:
    """Add `reasons` (array<string>, empty when valid), read problems first."""
    found = F.array(*invalid_reasons(table, zones))
    return records.withColumn(
        "reasons",
        F.array_distinct(F.concat(F.col("_read_problems"), F.filter(found, lambda r: r.isNotNull()))),
    )
