"""The rows a failed row-level expectation is about, found in Spark (never collected).

GX says whether a check failed and counts and samples the failing rows; holding back the
failing shop-days needs all of them, at any scale. This turns the few expectation types
the row-level checks use into the equivalent Spark predicate, with GX's own semantics
(map expectations ignore nulls, except the null checks themselves; `row_condition`
restricts the rows checked).
"""

from __future__ import annotations

import great_expectations.expectations as gxe
from pyspark.sql import Column
from pyspark.sql import functions as F

# The row-level expectation types `violation` turns into a predicate.
ROW_LEVEL = (
    gxe.ExpectColumnValuesToNotBeNull,
    gxe.ExpectColumnValuesToBeNull,
    gxe.ExpectColumnValuesToBeInSet,
    gxe.ExpectColumnValuesToBeBetween,
    gxe.ExpectColumnPairValuesAToBeGreaterThanB,
)


def violation(expectation) -> Column:
    """True for the rows of the checked frame that fail `expectation`."""
    if isinstance(expectation, gxe.ExpectColumnPairValuesAToBeGreaterThanB):
        a, b = F.col(expectation.column_A), F.col(expectation.column_B)
        fails = ~(a >= b) if expectation.or_equal else ~(a > b)
        return a.isNotNull() & b.isNotNull() & fails
    column = F.col(expectation.column)
    if isinstance(expectation, gxe.ExpectColumnValuesToNotBeNull):
        fails = column.isNull()
    elif isinstance(expectation, gxe.ExpectColumnValuesToBeNull):
        fails = column.isNotNull()
    elif isinstance(expectation, gxe.ExpectColumnValuesToBeInSet):
        fails = column.isNotNull() & ~column.isin(list(expectation.value_set))
    elif isinstance(expectation, gxe.ExpectColumnValuesToBeBetween):
        fails = F.lit(False)
        if expectation.min_value is not None:
            fails = fails | ((column <= expectation.min_value) if expectation.strict_min else (column < expectation.min_value))
        if expectation.max_value is not None:
            fails = fails | ((column >= expectation.max_value) if expectation.strict_max else (column > expectation.max_value))
        fails = column.isNotNull() & fails
    else:
        raise TypeError(f"{type(expectation).__name__} cannot hold back rows: give its check scope TABLE")
    condition = getattr(expectation, "row_condition", None)
    if condition is None:
        return fails
    # GX 1.x keeps a Spark condition string as a pass-through filter.
    text = condition if isinstance(condition, str) else condition.pass_through_filter
    return F.expr(text) & fails
