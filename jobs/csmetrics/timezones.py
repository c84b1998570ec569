"""Local dates and times of UTC timestamps in each shop's own timezone (SPEC §1)."""

from __future__ import annotations

import zoneinfo
from datetime import time

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F


def known_zones(spark: SparkSession) -> list[str]:
    """IANA timezone names that both Python's zoneinfo and Spark's JVM know: the names a
    shop's timezone may hold. (Spark also accepts offsets such as `+08:00`; SPEC asks for
    IANA names, which follow a region's DST rules.)"""
    jvm_zones = set(spark._jvm.java.time.ZoneId.getAvailableZoneIds())
    return sorted(zone for zone in zoneinfo.available_timezones() if zone in jvm_zones)


def local_date(utc: Column, timezone: Column) -> Column:
    return F.to_date(F.from_utc_timestamp(utc, timezone))


def local_day_end(day: Column, timezone: Column, days_after: int = 0) -> Column:
    """UTC instant of the local midnight ending date `day` + `days_after` (exclusive bound)."""
    return F.to_utc_timestamp(F.date_add(day, days_after + 1).cast("timestamp"), timezone)


def local_instant(day: Column, wall_clock: time, timezone: Column) -> Column:
    """UTC instant of the local wall-clock time `wall_clock` on local date `day`.

    (The session time zone is UTC, so casting the date gives its midnight as a wall clock.)
    """
    wall = F.timestamp_micros(F.unix_micros(day.cast("timestamp")) + F.lit(_micros(wall_clock)))
    return F.to_utc_timestamp(wall, timezone)


def _micros(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def seconds_between(later: Column, earlier: Column) -> Column:
    return (F.unix_micros(later) - F.unix_micros(earlier)) / 1_000_000
