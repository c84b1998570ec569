"""A check: one GX expectation (which carries its own severity), where a failure holds data
back, and which view of the table it reads."""

from __future__ import annotations

from dataclasses import dataclass

from great_expectations.expectations.metadata_types import FailureSeverity

# GX 1.x's own severities: an expectation is critical unless declared otherwise.
CRITICAL, WARNING = FailureSeverity.CRITICAL.value, FailureSeverity.WARNING.value

# Where a critical failure holds data back. TABLE: the whole publish (duplicate keys,
# schema, what only a broken job or a platform-wide loss can produce). SHOP_DAY: only the
# (stat_date, shop_id) of the failing rows, recorded with the reason in quality/held_back;
# every other shop's rows publish.
TABLE, SHOP_DAY = "table", "shop_day"

# Views of a table a check can read. ROWS are the rows as written; the others are
# derived frames for rules that span rows or tables (quality/gold_views.py).
ROWS = "rows"
# One row per (stat_date, shop_id), a column per metric value.
PER_SHOP_DAY = "per_shop_day"
# One row per (stat_date, shop_id) with sessions, and whether conversation rows exist.
COVERAGE = "coverage"
# consult_sessions against its trailing 7-day median, per shop and for the platform.
SHOP_VOLUME, PLATFORM_VOLUME = "shop_volume", "platform_volume"

# Columns that identify a row of each derived view in failure samples (ROWS use the table keys).
VIEW_KEYS = {
    PER_SHOP_DAY: ["stat_date", "shop_id"],
    COVERAGE: ["stat_date", "shop_id"],
    SHOP_VOLUME: ["stat_date", "shop_id"],
    PLATFORM_VOLUME: ["stat_date"],
}


@dataclass(frozen=True)
class Check:
    expectation: object
    view: str = ROWS
    scope: str = TABLE
    # Compare this column as text (GX compares Spark dates with strings poorly).
    cast_to_string: str | None = None

    @property
    def severity(self) -> str:
        """The expectation's GX severity: critical (the default) or warning."""
        return FailureSeverity(self.expectation.severity).value


def sql_list(values) -> str:
    return ", ".join(f"'{v}'" for v in values)
