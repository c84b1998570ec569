"""A check: one GX expectation, how severe its failure is, and which view of the table it reads."""

from __future__ import annotations

from dataclasses import dataclass

CRITICAL, WARNING = "critical", "warning"
# Views of a metric table a check can read: the rows as written, or one row per
# (stat_date, shop_id) with a column per metric value (for cross-metric rules).
ROWS, PER_SHOP_DAY = "rows", "per_shop_day"


@dataclass(frozen=True)
class Check:
    expectation: object
    severity: str
    view: str
    # Compare this column as text (GX compares Spark dates with strings poorly).
    cast_to_string: str | None = None


def sql_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)
