"""The timezone names ingestion accepts: every IANA name a real shop may carry, nothing Spark cannot apply."""

from __future__ import annotations

from csmetrics.timezones import known_zones


def test_ingestion_accepts_real_zones_and_refuses_the_rest(spark):
    zones = set(known_zones(spark))
    # DST zones of both hemispheres, half- and quarter-hour offsets, UTC+14, old link names.
    for legitimate in ("Asia/Shanghai", "Europe/Paris", "America/Sao_Paulo", "Australia/Lord_Howe", "Asia/Kolkata",
                       "Asia/Kathmandu", "America/St_Johns", "Pacific/Kiritimati", "Asia/Calcutta", "US/Eastern", "UTC"):
        assert legitimate in zones, legitimate
    for refused in ("Mars/Olympus", "+08:00", "GMT+8", "asia/shanghai", ""):
        assert refused not in zones, refused
