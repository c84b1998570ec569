"""Every metric family, in registry order, and what follows from what each reads."""

from __future__ import annotations

from csmetrics import registry
from csmetrics.metrics import after_sale, conversation, follow_up, sales, satisfaction
from csmetrics.metrics.family import Family

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        conversation.FAMILY,
        satisfaction.FAMILY,
        sales.FAMILY,
        follow_up.FCR,
        follow_up.RESOLUTION,
        after_sale.COMPLAINT_COHORT,
        after_sale.TICKETS,
    )
}
assert set(FAMILIES) == set(registry.families()), "every registry family is declared once"


def recompute_horizon_days(table: str) -> int | None:
    """How many days back from its date a normal run recomputes metrics that read `table`
    (None: no metric reads it). Records about older events can only change final rows."""
    windows = [m.window_days for m in registry.METRICS if table in FAMILIES[m.family].tables]
    return max(windows) if windows else None
