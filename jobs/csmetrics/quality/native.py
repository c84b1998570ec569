"""Pass or fail of the gates' expectations, computed by Spark in one aggregation per view,
and every view of a gate in one Spark job: planned without adaptive execution, which would
make a job of each view's shuffle.

GX 1.x on Spark resolves each expectation's metrics in jobs of their own, about a second a
view on any data, and the gates validate a dozen views a run: a third of a small daily run.
Every expectation type the suites use is answered here in a single aggregation, with GX's
semantics (violations.py: map expectations ignore nulls, `row_condition` restricts the rows).
Checks that fail run again in GX, which counts them, samples the failing keys, stores the
result and renders Data Docs; an expectation of another type (or with `mostly`) always runs
in GX. tests/integration/test_quality_gate.py holds both engines to the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import great_expectations.expectations as gxe
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from csmetrics.quality.violations import ROW_LEVEL, violation
from csmetrics.spark import without_adaptive_execution

UNIQUE = (gxe.ExpectColumnValuesToBeUnique, gxe.ExpectCompoundColumnsToBeUnique)
TABLE_LEVEL = (gxe.ExpectTableColumnsToMatchSet, gxe.ExpectTableRowCountToBeBetween)


@dataclass(frozen=True)
class Outcome:
    success: bool
    unexpected_count: int | None = None
    observed_value: object = None
    # Keys (or values) of failing rows: GX's sample; the aggregation keeps none.
    sample: tuple | list = ()


def supports(expectation) -> bool:
    """True when `evaluate` answers `expectation` exactly as GX does."""
    if getattr(expectation, "mostly", None) not in (None, 1, 1.0):
        return False
    if isinstance(expectation, gxe.ExpectCompoundColumnsToBeUnique) and expectation.ignore_row_if != "all_values_are_missing":
        return False
    if isinstance(expectation, gxe.ExpectTableColumnsToMatchSet) and expectation.exact_match is None:
        return False
    return isinstance(expectation, ROW_LEVEL + UNIQUE + TABLE_LEVEL)


def evaluate(frame: DataFrame, expectations: list) -> list[Outcome]:
    """The outcome of each of `expectations` (all `supports`-ed) on `frame`, in one Spark job."""
    return evaluate_views([(frame, expectations)])[0]


def evaluate_views(views: list[tuple[DataFrame, list]]) -> list[list[Outcome]]:
    """The outcomes of each view's expectations (all `supports`-ed), as `evaluate` gives them,
    with every view's aggregation in one Spark job (the union of one row of counts per view)."""
    aggregates, names = [], {}
    for i, (frame, expectations) in enumerate(views):
        counts = _counts(expectations)
        if len(counts) > 1 or any(isinstance(e, gxe.ExpectTableRowCountToBeBetween) for e in expectations):
            names[i] = list(counts)
            # One shape for every view (its index, its counts in order), so that they union.
            aggregates.append(
                frame.agg(*(column.alias(name) for name, column in counts.items())).select(
                    F.lit(i).alias("view"), F.array(*(F.col(name).cast("long") for name in counts)).alias("counts")
                )
            )
    rows = {}
    if aggregates:
        union = aggregates[0]
        for aggregate in aggregates[1:]:
            union = union.unionByName(aggregate)
        # Adaptive execution would make a job of each shuffle, and has no skew to split here:
        # record-level shuffles (a uniqueness check, the latest version of each session) are
        # keyed by record ids, shops join by broadcast, every other shuffle is at shop-day
        # grain, and the gold and derived rows come materialized, their plans made before.
        # The shuffles run in the session's partitions, which adaptive execution coalesced.
        with without_adaptive_execution(union.sparkSession):
            collected = union.collect()
        rows = {row["view"]: dict(zip(names[row["view"]], row["counts"])) for row in collected}
    return [
        [_outcome(j, expectation, frame, rows.get(i)) for j, expectation in enumerate(expectations)]
        for i, (frame, expectations) in enumerate(views)
    ]


def _counts(expectations: list) -> dict[str, Column]:
    """The aggregate columns that decide `expectations`, by name."""
    counts: dict[str, Column] = {"rows": F.count(F.lit(1))}
    for i, expectation in enumerate(expectations):
        if isinstance(expectation, ROW_LEVEL):
            counts[f"unexpected_{i}"] = F.count_if(violation(expectation))
        elif isinstance(expectation, UNIQUE):
            considered, key = _unique_key(expectation)
            counts[f"considered_{i}"] = F.count_if(considered)
            counts[f"distinct_{i}"] = F.count_distinct(F.when(considered, key))
    return counts


def _unique_key(expectation) -> tuple[Column, Column]:
    """Rows the uniqueness check considers, and the key it compares (a struct: nulls in a
    compound key are values, as in GX's grouping)."""
    if isinstance(expectation, gxe.ExpectColumnValuesToBeUnique):
        column = F.col(expectation.column)
        return column.isNotNull(), column
    columns = [F.col(c) for c in expectation.column_list]
    all_missing = columns[0].isNull()
    for column in columns[1:]:
        all_missing = all_missing & column.isNull()
    return ~all_missing, F.struct(*columns)


def _outcome(i: int, expectation, frame: DataFrame, row) -> Outcome:
    if isinstance(expectation, ROW_LEVEL):
        unexpected = row[f"unexpected_{i}"]
        return Outcome(unexpected == 0, unexpected)
    if isinstance(expectation, UNIQUE):
        duplicated = row[f"considered_{i}"] - row[f"distinct_{i}"]
        # GX counts every row of a repeated key; this only knows that one repeats.
        return Outcome(duplicated == 0, 0 if duplicated == 0 else None)
    if isinstance(expectation, gxe.ExpectTableRowCountToBeBetween):
        rows = row["rows"]
        low, high = expectation.min_value, expectation.max_value
        above = low is None or (rows > low if expectation.strict_min else rows >= low)
        below = high is None or (rows < high if expectation.strict_max else rows <= high)
        return Outcome(above and below, observed_value=rows)
    columns, expected = set(frame.columns), set(expectation.column_set)
    matches = columns == expected if expectation.exact_match else expected <= columns
    return Outcome(matches, observed_value=sorted(frame.columns))
