"""Checks of settings and arguments that run before any Spark starts.

A setting that cannot work fails here in one line that names it and says what to do,
instead of as a stack trace after minutes of work. Remote locations (`s3a://`, `hdfs://`)
are left to Spark: only local folders are probed.
"""

from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path

from csmetrics.config import Settings, SettingsError
from csmetrics.schemas.raw import RAW_TABLES

# Airflow's own default `[scheduler] allowed_run_id_pattern`: every run id Airflow makes
# passes it. Run ids become parts of GX result keys (file names) and Delta commit metadata,
# so a `/`, `\` or a quote must not reach them.
RUN_ID = re.compile(r"^[A-Za-z0-9_.~:+-]{1,250}$")


def check_run_id(run_id: str) -> str:
    if not RUN_ID.match(run_id):
        raise SettingsError(
            f"--run-id {run_id!r} cannot be used: a run id may hold letters, digits and _ . ~ : + - only "
            "(Airflow's allowed_run_id_pattern), at most 250 characters"
        )
    return run_id


def check_range(start: date, end: date) -> None:
    if end < start:
        raise SettingsError(f"--end {end} is before --start {start}: give the first date first")


def check_thresholds(settings: Settings) -> None:
    from csmetrics.derived.weekly import parse_thresholds

    _check_parsed("CSMETRICS_GOVERNANCE_THRESHOLDS", settings.governance_thresholds, parse_thresholds,
                  "pickup_rate>=0.85;avg_wait_seconds<300")


def check_indicators(settings: Settings) -> None:
    from csmetrics.derived.experience import parse_indicators

    _check_parsed("CSMETRICS_EXPERIENCE_INDICATORS", settings.experience_indicators, parse_indicators,
                  "complaint_rate_14d:2;reply_3min_rate;dispute_merchant_rate")


def _check_parsed(variable: str, text: str, parse, example: str) -> None:
    """A setting that names metrics: refused in one line when `parse` refuses it."""
    if not text:
        return
    try:
        parse(text)
    except ValueError as error:
        raise SettingsError(
            f"{variable}={text!r} cannot be used: {error} (expected e.g. {example}, metrics as in docs/metrics.md)"
        ) from None


def _local(location: str) -> Path | None:
    if "://" in location and not location.startswith("file:"):
        return None
    return Path(location.removeprefix("file://").removeprefix("file:"))


def check_writable(variable: str, location: str) -> None:
    folder = _local(location)
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".csmetrics-write-probe-"):
            pass
    except OSError as error:
        raise SettingsError(
            f"{variable}={location!r} is not writable ({error.strerror or error}): point it at a folder this user "
            "can write, or fix its permissions"
        ) from None


def check_landing(settings: Settings) -> None:
    root = _local(settings.landing)
    if root is None:
        return
    if not any((root / table).is_dir() for table in RAW_TABLES):
        raise SettingsError(
            f"CSMETRICS_LANDING={settings.landing!r} holds none of the landing tables "
            f"({', '.join(f'{t}/' for t in RAW_TABLES)}): is it the landing zone's root?"
        )


def check_run_settings(run_id: str | None = None) -> Settings:
    """Everything a run needs from its settings and arguments, checked without Spark."""
    settings = Settings.from_env()
    if run_id is not None:
        check_run_id(run_id)
    check_thresholds(settings)
    check_indicators(settings)
    if settings.alert_critical_z < settings.alert_z:
        raise SettingsError(
            f"CSMETRICS_ALERT_CRITICAL_Z={settings.alert_critical_z:g} is below CSMETRICS_ALERT_Z={settings.alert_z:g}: "
            "an alert is critical from a z-score at or above the one that raises it"
        )
    check_writable("CSMETRICS_WAREHOUSE", settings.warehouse)
    if settings.gx_root:
        check_writable("CSMETRICS_GX_ROOT", settings.gx_root)
    check_landing(settings)
    return settings
