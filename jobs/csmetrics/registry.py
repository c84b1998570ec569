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

    @property
    def has_denominator(self) -> bool:
        return self.kind in (RATIO, MEAN)


def _conversation(id_, description, kind, direction, unit="", agent=True):
    grains = (SHOP, AGENT) if agent else (SHOP,)
    return Metric(id_, description, kind, direction, 1, "conversation", grains, ("all",), unit)


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
    _conversation("answer_question_ratio", "Human messages / human-phase buyer messages", RATIO, HIGHER),
    _conversation("reply_rate", "Buyers whose last message of the day was followed by a valid reply", RATIO, HIGHER),
    _conversation("avg_reception_seconds", "Mean ended_at - transferred_to_human_at of received sessions", MEAN, LOWER, "seconds"),
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
