"""Expectations shared by the long-format metric tables (shop and agent grain)."""

from __future__ import annotations

import great_expectations.expectations as gxe

from csmetrics import registry
from csmetrics.quality.checks import CRITICAL, Check, sql_list


def metric_row_checks(keys: list[str], dates) -> list[Check]:
    ratios = [m.id for m in registry.METRICS if m.kind == registry.RATIO]
    with_denominator = [m.id for m in registry.METRICS if m.has_denominator]
    without_denominator = [m.id for m in registry.METRICS if not m.has_denominator]
    segments = sorted({s for m in registry.METRICS for s in m.segments})
    return [
        Check(gxe.ExpectCompoundColumnsToBeUnique(column_list=keys), CRITICAL),
        Check(gxe.ExpectColumnValuesToBeInSet(column="metric", value_set=[m.id for m in registry.METRICS]), CRITICAL),
        Check(gxe.ExpectColumnValuesToBeInSet(column="segment", value_set=segments), CRITICAL),
        Check(gxe.ExpectColumnValuesToBeInSet(column="maturity", value_set=["provisional", "final"]), CRITICAL),
        Check(gxe.ExpectColumnValuesToBeInSet(column="stat_date", value_set=[str(d) for d in dates]), CRITICAL, cast_to_string="stat_date"),
        Check(gxe.ExpectColumnValuesToNotBeNull(column="value"), CRITICAL),
        Check(gxe.ExpectColumnValuesToBeBetween(column="value", min_value=0), CRITICAL),
        Check(
            gxe.ExpectColumnValuesToBeBetween(
                column="value", min_value=0, max_value=1, row_condition=f"metric IN ({sql_list(ratios)})", condition_parser="spark"
            ),
            CRITICAL,
        ),
        Check(
            gxe.ExpectColumnValuesToBeBetween(
                column="denominator",
                min_value=0,
                strict_min=True,
                row_condition=f"metric IN ({sql_list(with_denominator)})",
                condition_parser="spark",
            ),
            CRITICAL,
        ),
        Check(
            gxe.ExpectColumnValuesToBeNull(
                column="denominator", row_condition=f"metric IN ({sql_list(without_denominator)})", condition_parser="spark"
            ),
            CRITICAL,
        ),
    ]
