"""Local dates and times of UTC timestamps in each shop's own timezone (SPEC §1)."""

from __future__ import annotations

from datetime import time

from pyspark.sql import Column
from pyspark.sql import functions as F


def local_date(utc: Column, timezone: Column) -> Column:
    return F.to_date(F.from_utc_timestamp(utc, timezone))


def local_day_end(day: Column, timezone: Column, days_after: int = 0) -> Column:
    """UTC instant of the local midnight ending date `day` + `days_after` (exclusive bound)."""
    return F.to_utc_timestamp(F.date_add(day, days_after + 1).cast("timestamp"), timezone)


def within_local_hours(utc: Column, timezone: Column, day: Column, start: time, end: time) -> Column:
    """True when `utc` falls on local date `day` within [start, end) local time."""
    local = F.from_utc_timestamp(utc, timezone)
    micros_of_day = F.unix_micros(local) - F.unix_micros(F.date_trunc("day", local))
    return (
        (F.to_date(local) == day)
        & (micros_of_day >= _micros(start))
        & (micros_of_day < _micros(end))
    )


def _micros(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def seconds_between(later: Column, earlier: Column) -> Column:
    return (F.unix_micros(later) - F.unix_micros(earlier)) / 1_000_000
