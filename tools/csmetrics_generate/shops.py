"""The shop and agent populations: Zipf-skewed sizes, platforms, categories, tiers, timezones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from csmetrics_generate.arrow import ids, take

PLATFORMS = ["douyin", "taobao", "tmall"]
CATEGORIES = ["apparel", "beauty", "electronics", "food", "home", "toys"]
TIERS = ["L1", "L2", "L3", "L4", "L5"]
# Most shops are in China; a few elsewhere, including a half-hour offset and DST zones of
# both hemispheres (2026: Los Angeles Mar 8 / Nov 1, Berlin and London Mar 29 / Oct 25,
# Auckland Apr 5 / Sep 27).
TIMEZONES = [
    "Asia/Shanghai", "Asia/Tokyo", "Europe/London", "America/Los_Angeles", "Asia/Kolkata", "Europe/Berlin", "Pacific/Auckland",
]
TIMEZONE_WEIGHTS = [0.79, 0.04, 0.03, 0.05, 0.03, 0.04, 0.02]
# The first shops are deterministic, so that small data sets cover every kind of clock.
FIRST_TIMEZONES = ["Asia/Shanghai", "America/Los_Angeles", "Europe/Berlin", "Pacific/Auckland"]


@dataclass
class Population:
    shop_ids: pa.Array
    timezone_index: np.ndarray
    # Expected sessions a day per shop (Zipf-skewed).
    daily_sessions: np.ndarray
    human_agents: np.ndarray
    shops: pa.Table
    agents: pa.Table

    def utc_offset_seconds(self, day: date) -> np.ndarray:
        """Each shop's UTC offset at local noon of `day`."""
        noon = datetime(day.year, day.month, day.day, 12)
        per_zone = np.array(
            [noon.replace(tzinfo=ZoneInfo(tz)).utcoffset() // timedelta(seconds=1) for tz in TIMEZONES]
        )
        return per_zone[self.timezone_index]


def make_population(rng: np.random.Generator, n_shops: int, sessions_per_day: int, start: date) -> Population:
    shop_numbers = np.arange(n_shops)
    weights = 1.0 / np.power(rng.permutation(n_shops) + 1.0, 1.1)
    daily_sessions = sessions_per_day * weights / weights.sum()
    timezone_index = rng.choice(len(TIMEZONES), size=n_shops, p=TIMEZONE_WEIGHTS)
    for number, zone in enumerate(FIRST_TIMEZONES[:n_shops]):
        timezone_index[number] = TIMEZONES.index(zone)
    human_agents = 1 + np.floor(np.log2(1 + daily_sessions / 20)).astype(int)
    shop_ids = ids("shop", shop_numbers)
    opened = pa.array(
        [start - timedelta(days=int(d)) for d in rng.integers(30, 2000, n_shops)], pa.date32()
    )
    shops = pa.table(
        {
            "shop_id": shop_ids,
            "shop_name": ids("Shop ", shop_numbers),
            "platform": take(PLATFORMS, rng.integers(0, 3, n_shops)),
            "category": take(CATEGORIES, rng.integers(0, len(CATEGORIES), n_shops)),
            "tier": take(TIERS, rng.integers(0, len(TIERS), n_shops)),
            "timezone": take(TIMEZONES, timezone_index),
            "opened_date": opened,
        }
    )
    agents = _agents(shop_numbers, human_agents)
    return Population(shop_ids, timezone_index, daily_sessions, human_agents, shops, agents)


def agent_number(shop: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Agent k of a shop; k = -1 is the shop's bot."""
    return shop * 100 + (k + 1)


def _agents(shop_numbers: np.ndarray, human_agents: np.ndarray) -> pa.Table:
    per_shop = human_agents + 1
    shop = np.repeat(shop_numbers, per_shop)
    k = np.arange(per_shop.sum()) - np.repeat(np.cumsum(per_shop) - per_shop, per_shop) - 1
    return pa.table(
        {
            "agent_id": ids("agent", agent_number(shop, k)),
            "shop_id": ids("shop", shop),
            "agent_kind": take(["bot", "human"], (k >= 0).astype(int)),
            "display_name": ids("Agent ", agent_number(shop, k)),
        }
    )
