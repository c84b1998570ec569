"""Point the pipeline (which reads its settings from the environment) at one warehouse at a time."""

from __future__ import annotations

import math
import os
import shutil
from datetime import date
from pathlib import Path

from csmetrics.config import Settings


def expose(source: Path, landing: Path, up_to: date) -> None:
    """Make the arrival partitions dt <= up_to of every table visible in `landing`."""
    for folder in source.glob("*/dt=*"):
        if date.fromisoformat(folder.name[3:]) <= up_to:
            target = landing / folder.parent.name / folder.name
            if not target.exists():
                shutil.copytree(folder, target)


class Warehouse:
    """Points the pipeline (which reads its settings from the environment) at one warehouse."""

    def __init__(self, root: Path, landing: Path | None = None):
        self.root = root
        self.landing = landing or root / "landing"
        self.landing.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> Settings:
        self._saved = {k: os.environ.get(k) for k in ("CSMETRICS_WAREHOUSE", "CSMETRICS_LANDING")}
        os.environ.update(CSMETRICS_WAREHOUSE=str(self.root / "warehouse"), CSMETRICS_LANDING=str(self.landing))
        return Settings.from_env()

    def __exit__(self, *exc):
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def gold(spark, settings, table, version=None):
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    frame = reader.load(settings.table_path("gold", table)).drop("run_id", "computed_at")
    keys = [k for k in ("stat_date", "shop_id", "agent_id", "session_id", "scene_level", "scene", "metric", "segment") if k in frame.columns]
    return {tuple(r[k] for k in keys): tuple(r) for r in frame.collect()}


def same_rows(left: list[tuple], right: list[tuple]) -> bool:
    """Equal rows, doubles to a relative 1e-9: sums over differently partitioned data add in
    another order (8899.844275 vs 8899.844275000001). Rounding both to 6 decimals is not
    enough: 150.0233635 and 150.02336349999999 round apart."""
    def same(x, y):
        return x == y or (isinstance(x, float) and isinstance(y, float) and math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9))

    return len(left) == len(right) and all(len(a) == len(b) and all(map(same, a, b)) for a, b in zip(left, right))
