"""Expectations shared by the long-format metric tables (shop and agent grain).

Each asserts what cannot happen by definition. What only the job can get wrong (keys,
metric and segment names, maturity labels, the dates the run owns) blocks the publish.
What data can drive into an impossible value for one shop (a negative wait from clocks
that disagree, a proportion above 1) holds back that shop-day only.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from csmetrics import registry
from csmetrics.quality.checks import SHOP_DAY, Check, sql_list


def metric_row_checks(keys: list[str], dates) -> list[Check]:
    proportions = [m.id for m in registry.METRICS if m.is_proportion]
    with_denominator = [m.id for m in registry.METRICS if m.has_denominator]
    without_denominator = [m.id for m in registry.METRICS if not m.has_denominator]
    segments = sorted({s for m in registry.METRICS for s in m.segments})
    return [
        Check(gxe.ExpectCompoundColumnsToBeUnique(column_list=keys)),
        Check(gxe.ExpectColumnValuesToBeInSet(column="metric", value_set=[m.id for m in registry.METRICS])),
        Check(gxe.ExpectColumnValuesToBeInSet(column="segment", value_set=segments)),
        Check(gxe.ExpectColumnValuesToBeInSet(column="maturity", value_set=["provisional", "final"])),
        Check(gxe.ExpectColumnValuesToBeInSet(column="stat_date", value_set=[str(d) for d in dates]), cast_to_string="stat_date"),
        Check(gxe.ExpectColumnValuesToNotBeNull(column="value"), scope=SHOP_DAY),
        # Counts, sums, rates and durations are never negative.
        Check(gxe.ExpectColumnValuesToBeBetween(column="value", min_value=0), scope=SHOP_DAY),
        # Only true proportions are bounded by 1 (answer_question_ratio is not one).
        Check(
            gxe.ExpectColumnValuesToBeBetween(
                column="value", min_value=0, max_value=1, row_condition=f"metric IN ({sql_list(proportions)})", condition_parser="spark"
            ),
            scope=SHOP_DAY,
        ),
        Check(
            gxe.ExpectColumnValuesToBeBetween(
                column="denominator",
                min_value=0,
                strict_min=True,
                row_condition=f"metric IN ({sql_list(with_denominator)})",
                condition_parser="spark",
            ),
            scope=SHOP_DAY,
        ),
        Check(
            gxe.ExpectColumnValuesToBeNull(
                column="denominator", row_condition=f"metric IN ({sql_list(without_denominator)})", condition_parser="spark"
            ),
            scope=SHOP_DAY,
        ),
    ]
