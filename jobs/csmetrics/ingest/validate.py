"""Record-level validity rules of SPEC §2 "Bad input", as one pure transform."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from csmetrics.schemas.raw import RawTable


def invalid_reasons(table: RawTable) -> list[Column]:
    """One nullable reason per rule; a record is valid when all are null."""
    rules: list[Column] = []
    for column in table.required_columns:
        rules.append(F.when(F.col(column).isNull(), F.lit(f"null_required:{column}")))
    for column, allowed in table.enums.items():
        rules.append(
            F.when(F.col(column).isNotNull() & ~F.col(column).isin(*allowed), F.lit(f"bad_enum:{column}"))
        )
    for later, earlier in table.ordered_pairs:
        rules.append(F.when(F.col(later) < F.col(earlier), F.lit(f"contradiction:{later}<{earlier}")))
    for column, (low, high) in table.ranges.items():
        if low is not None:
            rules.append(F.when(F.col(column) < low, F.lit(f"out_of_range:{column}")))
        if high is not None:
            rules.append(F.when(F.col(column) > high, F.lit(f"out_of_range:{column}")))
    return rules


def with_invalid_reasons(records: DataFrame, table: RawTable) -> DataFrame:
    """Add `reasons` (array<string>, empty when valid), read problems first."""
    found = F.array(*invalid_reasons(table))
    return records.withColumn(
        "reasons",
        F.array_distinct(F.concat(F.col("_read_problems"), F.filter(found, lambda r: r.isNotNull()))),
    )
