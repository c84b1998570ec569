"""Fixtures shared by the hand-computed metric tests."""

from __future__ import annotations

from datetime import date

import pytest

from csmetrics.schemas.raw import SHOPS

SHANGHAI, LOS_ANGELES = "Asia/Shanghai", "America/Los_Angeles"


@pytest.fixture(scope="session")
def two_shops(spark):
    """s1 in Shanghai, s2 in Los Angeles (whose local day straddles two UTC dates)."""
    return spark.createDataFrame(
        [
            ("s1", "Shop 1", "tmall", "food", "L3", SHANGHAI, date(2025, 1, 1)),
            ("s2", "Shop 2", "taobao", "toys", "L1", LOS_ANGELES, date(2025, 1, 1)),
        ],
        SHOPS.schema,
    )
