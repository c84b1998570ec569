"""The metric registry: every metric's id, meaning, kind, direction, window, grain and segments.

Jobs, documentation and expectations all read this list; no other file repeats metric ids
by hand. Definitions are those of SPEC §4 (see docs/metrics.md for worked examples).
"""

from __future__ import annotations

from dataclasses import dataclass

# kind: how a row is stored (SPEC §5). A count or sum has no denominator; a ratio or
# mean has one and value = numerator / denominator.
COUNT, SUM, RATIO, MEAN = "count", "sum", "ratio", "mean"
# direction: for benchmarks and leaderboards.
HIGHER, LOWER, VOLUME = "higher_is_better", "lower_is_better", "volume"

SHOP, AGENT = "shop", "agent"


@dataclass(frozen=True)
class Metric:
    id: str
    description: str
    kind: str
    direction: str
    window_days: int
    family: str
    grains: tuple[str, ...] = (SHOP,)
    segments: tuple[str, ...] = ("all",)
    unit: str = ""
    # A ratio whose numerator counts a subset of its denominator, so its value lies in
    # [0, 1]. Not every ratio does: agents often send several messages per buyer message.
    proportion: bool = True

    @property
    def has_denominator(self) -> bool:
        return self.kind in (RATIO, MEAN)

    @property
    def is_proportion(self) -> bool:
        return self.kind == RATIO and self.proportion


def _conversation(id_, description, kind, direction, unit="", agent=True, proportion=True):
    grains = (SHOP, AGENT) if agent else (SHOP,)
    return Metric(id_, description, kind, direction, 1, "conversation", grains, ("all",), unit, proportion)


def _delayed(family, id_, description, kind, direction, window, unit=""):
    return Metric(id_, description, kind, direction, window, family, (SHOP,), ("all",), unit)


SATISFACTION_SEGMENTS = ("all", "human", "bot", "presale", "aftersale")
# Ratings at agent grain are those of target = human, stored under that segment.
AGENT_RATING_SEGMENT = "human"


def _satisfaction(id_, description):
    return Metric(id_, description, RATIO, HIGHER, 1, "satisfaction", (SHOP, AGENT), SATISFACTION_SEGMENTS)


METRICS: tuple[Metric, ...] = (
    _conversation("consult_sessions", "Non-filtered sessions started on D", COUNT, VOLUME, "sessions", agent=False),
    _conversation("consult_buyers", "Distinct buyers of non-filtered sessions of D", COUNT, VOLUME, "buyers", agent=False),
    _conversation("filtered_sessions", "Internal or spam sessions started on D", COUNT, VOLUME, "sessions", agent=False),
    _conversation("transfer_sessions", "Non-filtered sessions of D transferred to a human", COUNT, VOLUME, "sessions"),
    _conversation("received_sessions", "Transfer sessions with a human message at or after the transfer", COUNT, VOLUME, "sessions"),
    _conversation("pickup_rate", "received_sessions / transfer_sessions", RATIO, HIGHER),
    _conversation("reply_3min_rate", "Business-hour human-phase buyer messages answered by a human within 180 s", RATIO, HIGHER),
    _conversation("reply_3min_session_rate", "Sessions whose every counted message was answered within 180 s", RATIO, HIGHER),
    _conversation("avg_response_seconds", "Mean time from a human-phase buyer message to the next human reply", MEAN, LOWER, "seconds"),
    _conversation("avg_round_response_seconds", "Mean time from a round's first buyer message to the next human reply", MEAN, LOWER, "seconds"),
    _conversation("first_response_seconds", "Mean time from a received session's first human-phase buyer message to its reply", MEAN, LOWER, "seconds"),
    _conversation("slow_rounds", "Human-phase rounds answered after more than 180 s or never", COUNT, LOWER, "rounds"),
    _conversation("avg_wait_seconds", "Mean queue wait (assigned_at - queue_entered_at)", MEAN, LOWER, "seconds"),
    _conversation("answer_question_ratio", "Human messages / human-phase buyer messages", RATIO, HIGHER, proportion=False),
    _conversation("reply_rate", "Buyers whose last message of the day was followed by a valid reply", RATIO, HIGHER),
    _conversation("avg_reception_seconds", "Mean ended_at - transferred_to_human_at of received sessions", MEAN, LOWER, "seconds"),
    _satisfaction("satisfaction_rate", "Ratings scored 4 or 5 / ratings invited on D and given by the end of D+1"),
    _satisfaction("very_satisfied_rate", "Ratings scored 5 / ratings invited on D and given by the end of D+1"),
    _delayed("sales", "inquiry_buyers", "Pre-sale buyers among the consulting buyers of D", COUNT, VOLUME, 1, "buyers"),
    _delayed("sales", "inquiry_pay_rate_t1", "Inquiry buyers who paid from their first contact to the end of D+1", RATIO, HIGHER, 1),
    _delayed("sales", "inquiry_pay_rate_final", "Inquiry buyers who paid from their first contact to the end of D+3", RATIO, HIGHER, 3),
    _delayed("sales", "cs_sales_amount", "Amount of orders created and paid within 72 h of the buyer's first contact", SUM, VOLUME, 3, "currency"),
    _delayed("sales", "cs_buyers", "Consulting buyers with at least one such order", COUNT, VOLUME, 3, "buyers"),
    _delayed("sales", "cs_items", "Items of those orders", SUM, VOLUME, 3, "items"),
    _delayed("sales", "avg_order_value", "cs_sales_amount / cs_buyers", MEAN, VOLUME, 3, "currency"),
    _delayed("sales", "items_per_buyer", "cs_items / cs_buyers", MEAN, VOLUME, 3, "items"),
    _delayed("fcr", "fcr_3d", "After-sale received sessions without a human recontact within 72 h", RATIO, HIGHER, 3),
    _delayed("resolution", "resolution_rate_15d", "After-sale contacts of D without a complaint within 360 h", RATIO, HIGHER, 15),
    _delayed("complaints", "complaint_rate_14d", "Orders paid on D-14 complained about within 336 h of payment", RATIO, LOWER, 0),
    _delayed("after_sale", "dispute_merchant_rate", "Tickets closed on D with the merchant found responsible", RATIO, LOWER, 0),
    _delayed("after_sale", "return_refund_wait_seconds", "Mean merchant wait of return/exchange tickets closed on D", MEAN, LOWER, 0, "seconds"),
    _delayed("after_sale", "refund_only_wait_seconds", "Mean merchant wait of refund-only tickets closed on D", MEAN, LOWER, 0, "seconds"),
    _delayed("after_sale", "refund_cycle_seconds", "Mean closed_at - created_at of refund tickets closed on D", MEAN, LOWER, 0, "seconds"),
)

BY_ID: dict[str, Metric] = {m.id: m for m in METRICS}


def metrics(family: str | None = None, grain: str | None = None) -> list[Metric]:
    return [
        m
        for m in METRICS
        if (family is None or m.family == family) and (grain is None or grain in m.grains)
    ]


def max_window(family: str | None = None) -> int:
    return max(m.window_days for m in metrics(family))


def families() -> tuple[str, ...]:
    """Every metric family, in registry order."""
    return tuple(dict.fromkeys(m.family for m in METRICS))
