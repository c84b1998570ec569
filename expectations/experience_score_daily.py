"""Expectations for gold/experience_score_daily: what the score rows obey by definition.

Every rule here holds for any input, so only a fault of the job can break one: each blocks
the score's MERGE (the table keeps the rows it had; csmetrics.quality.derived_gate).
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from csmetrics.quality.checks import Check, sql_list

KEYS = ["stat_date", "shop_id", "indicator"]
SCORE = "score"


def expectations(dates, indicators: list[str]) -> list[Check]:
    is_score, is_indicator = "indicator = 'score'", f"indicator IN ({sql_list(indicators)})"
    spark = dict(condition_parser="spark")
    return [
        Check(gxe.ExpectCompoundColumnsToBeUnique(column_list=KEYS)),
        Check(gxe.ExpectColumnValuesToBeInSet(column="indicator", value_set=[*indicators, SCORE])),
        Check(gxe.ExpectColumnValuesToBeInSet(column="maturity", value_set=["provisional", "final"])),
        Check(gxe.ExpectColumnValuesToBeInSet(column="stat_date", value_set=[str(d) for d in dates]), cast_to_string="stat_date"),
        # Points are a share of peers, the score their weighted mean, the lift a part of it.
        Check(gxe.ExpectColumnValuesToBeBetween(column="points", min_value=0, max_value=100)),
        Check(gxe.ExpectColumnValuesToBeBetween(column="value", min_value=0, max_value=100, row_condition=is_score, **spark)),
        Check(gxe.ExpectColumnValuesToBeBetween(column="lift_to_excellent", min_value=0, max_value=100)),
        Check(gxe.ExpectColumnValuesToBeBetween(column="weight", min_value=0, strict_min=True, row_condition=is_indicator, **spark)),
        Check(gxe.ExpectColumnValuesToBeBetween(column="scored_indicators", min_value=0, max_value=len(indicators))),
        # A row without points, or a score row without a score, says why.
        Check(gxe.ExpectColumnValuesToNotBeNull(column="reason", row_condition="points IS NULL AND indicator <> 'score'", **spark)),
        Check(gxe.ExpectColumnValuesToNotBeNull(column="reason", row_condition="value IS NULL AND indicator = 'score'", **spark)),
    ]
