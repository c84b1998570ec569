"""Expectations for gold/session_detail_daily: what one session's row obeys by definition.

A duplicated session or a date the run does not own can only come from the job: they block
the publish. Counts that data can drive out of range (clocks that disagree make a negative
wait) hold back that shop-day, as in the metric tables.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from csmetrics.quality.checks import SHOP_DAY, Check

KEYS = ["stat_date", "shop_id", "session_id"]
NEVER_NEGATIVE = (
    "buyer_messages", "human_messages", "human_phase_buyer_messages", "counted_3min_messages",
    "replied_3min_messages", "unreplied_3min_messages", "slow_rounds", "wait_seconds", "reception_seconds",
)


def expectations(dates, volume_anomaly_factor: float, volume_collapse_factor: float = 10.0) -> list[Check]:
    return [
        Check(gxe.ExpectCompoundColumnsToBeUnique(column_list=KEYS)),
        Check(gxe.ExpectColumnValuesToBeInSet(column="stat_date", value_set=[str(d) for d in dates]), cast_to_string="stat_date"),
        Check(gxe.ExpectColumnValuesToBeInSet(column="maturity", value_set=["provisional", "final"])),
        Check(gxe.ExpectColumnValuesToBeInSet(column="rating_score", value_set=[1, 2, 3, 4, 5]), scope=SHOP_DAY),
        *[Check(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0), scope=SHOP_DAY) for column in NEVER_NEGATIVE],
        # A session's messages in time cannot outnumber its counted ones.
        Check(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="counted_3min_messages", column_B="replied_3min_messages", or_equal=True, ignore_row_if="either_value_is_missing"
            ),
            scope=SHOP_DAY,
        ),
    ]
