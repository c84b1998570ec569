"""What a metric family declares beside its transform: the bronze inputs it reads, how far
around its dates it reads each of them, and how it computes from them.

The compute job loops over the plan's families (csmetrics.metrics.families.FAMILIES): it
reads each declared input pruned to its range and calls the family's `compute`, which returns
its tables by name: its long metric rows under METRIC_ROWS, and the rows of the gold tables it
computes beside them (the scene metrics, the session detail) under those tables' names. A
family's metrics are those of the registry under its name; their windows live there only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import Protocol

from pyspark.sql import DataFrame

# Local dates reach one day either side of UTC dates (offsets -12 h .. +14 h): every input
# read for local dates D is read over UTC event dates [D - 1, D + 1] at least.
TIMEZONE_MARGIN_DAYS = 1
# The key of a family's long metric rows (both grains) among the tables its `compute` returns.
METRIC_ROWS = "metric_rows"


@dataclass(frozen=True)
class Read:
    """A bronze input read over UTC event dates [first date - before, last date + after]."""

    table: str
    before: int = TIMEZONE_MARGIN_DAYS
    after: int = TIMEZONE_MARGIN_DAYS


class Inputs(Protocol):
    """What a family's `compute` receives: its declared inputs, read for its dates."""

    shops: DataFrame
    business_start: time
    business_end: time

    def read(self, table: str) -> DataFrame: ...

    def reuse(self, frame: DataFrame) -> DataFrame: ...

    def paid(self) -> DataFrame: ...

    def sessions_of_dates(self, dates: list[date]) -> DataFrame: ...


@dataclass(frozen=True)
class Family:
    name: str
    reads: tuple[Read, ...]
    # Its tables of the dates: METRIC_ROWS, and any gold table it computes beside them.
    compute: Callable[[Inputs, list[date]], dict[str, DataFrame]]
    # Whether `compute` takes its sessions from `Inputs.sessions_of_dates` (conformed once
    # per run for every family that does; its sessions Read must reach a day either side).
    conformed_sessions: bool = False

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(r.table for r in self.reads)

    def read_of(self, table: str) -> Read:
        return next(r for r in self.reads if r.table == table)
