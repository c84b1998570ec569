"""Settings, read from the environment so tests, demos and production differ by env only."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(f"CSMETRICS_{name}", default)


def _parse_time(text: str) -> time:
    return time.fromisoformat(text)


def _parse_pairs(text: str) -> dict[str, str]:
    """`key=value` pairs separated by `;` or newlines (CSMETRICS_SPARK_CONF)."""
    pairs = {}
    for item in text.replace("\n", ";").split(";"):
        if item.strip():
            key, _, value = item.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know besides its date. See README "Configuration"."""

    warehouse: str = "var/warehouse"
    landing: str = "var/landing"
    # Great Expectations project (validation results, Data Docs); "" means <warehouse>/quality/gx.
    gx_root: str = ""
    spark_master: str = "local[*]"
    spark_conf: dict[str, str] = field(default_factory=dict)
    shuffle_partitions: int = 8
    driver_memory: str = "4g"
    business_start: time = time(8, 0, 0)
    business_end: time = time(23, 0, 0)
    # Share of a table's records in one run that may be invalid before the run fails.
    max_invalid_share: float = 0.01
    # A day's consult_sessions more than this factor above or below its trailing 7-day
    # median (per shop, and for the platform) is recorded as a warning.
    volume_anomaly_factor: float = 3.0
    # The platform's consult_sessions below its trailing 7-day median divided by this
    # blocks the publish: input lost upstream, not a quiet day.
    volume_collapse_factor: float = 10.0
    # Shop-days held back by row-level gold checks, as a share of the run's shop-days, above
    # which (and above MIN_HELD_BACK_SHOP_DAYS) the failure is the job's, and blocks.
    max_held_back_share: float = 0.01
    default_timezone: str = "Asia/Shanghai"
    # Shops count as peers (benchmarks, leaderboards) when a metric's denominator, or the
    # count itself, reaches this.
    min_support: int = 10
    # "metric>=value;..." overriding the governance thresholds of SPEC §5 ("" = defaults).
    governance_thresholds: str = ""

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            warehouse=_absolute(_env("WAREHOUSE", cls.warehouse)),
            landing=_absolute(_env("LANDING", cls.landing)),
            gx_root=_absolute(_env("GX_ROOT", "")) if _env("GX_ROOT", "") else "",
            spark_master=_env("SPARK_MASTER", cls.spark_master),
            spark_conf=_parse_pairs(_env("SPARK_CONF", "")),
            shuffle_partitions=int(_env("SHUFFLE_PARTITIONS", str(cls.shuffle_partitions))),
            driver_memory=_env("DRIVER_MEMORY", cls.driver_memory),
            business_start=_parse_time(_env("BUSINESS_START", "08:00:00")),
            business_end=_parse_time(_env("BUSINESS_END", "23:00:00")),
            max_invalid_share=float(_env("MAX_INVALID_SHARE", str(cls.max_invalid_share))),
            volume_anomaly_factor=float(_env("VOLUME_ANOMALY_FACTOR", str(cls.volume_anomaly_factor))),
            volume_collapse_factor=float(_env("VOLUME_COLLAPSE_FACTOR", str(cls.volume_collapse_factor))),
            max_held_back_share=float(_env("MAX_HELD_BACK_SHARE", str(cls.max_held_back_share))),
            default_timezone=_env("DEFAULT_TIMEZONE", cls.default_timezone),
            min_support=int(_env("MIN_SUPPORT", str(cls.min_support))),
            governance_thresholds=_env("GOVERNANCE_THRESHOLDS", ""),
        )

    @property
    def gx_project(self) -> str:
        """A local folder: GX keeps its results and Data Docs on the driver's file system."""
        return self.gx_root or f"{self.warehouse}/quality/gx"

    def table_path(self, layer: str, table: str) -> str:
        return f"{self.warehouse}/{layer}/{table}"


def _absolute(path: str) -> str:
    """Local paths become absolute (Spark resolves relative ones per executor); URIs stay."""
    if "://" in path:
        return path
    return str(Path(path).resolve())
