"""Settings, read from the environment so tests, demos and production differ by env only."""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields
from datetime import time
from pathlib import Path


def _absolute(path: str) -> str:
    """Local paths become absolute (Spark resolves relative ones per executor); URIs stay."""
    if "://" in path:
        return path
    return str(Path(path).resolve())


def _text(value) -> str:
    return value.isoformat() if isinstance(value, time) else str(value)


class SettingsError(ValueError):
    """A setting or argument that cannot work: reported in one line before any Spark starts."""


def _parse_pairs(text: str) -> dict[str, str]:
    """`key=value` pairs separated by `;` or newlines (CSMETRICS_SPARK_CONF)."""
    pairs = {}
    for item in text.replace("\n", ";").split(";"):
        if item.strip():
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"{item.strip()!r} is not of the form key=value")
            pairs[key.strip()] = value.strip()
    return pairs


def _choice(*allowed: str):
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return parse


def _at_least(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise ValueError(f"{value} is less than {minimum}")
        return value

    return parse


def _days_back(text: str) -> int:
    value = _at_least(0)(text)
    if value > 3660:
        raise ValueError(f"{value} days is more than ten years (0 lists every partition)")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:  # also refuses nan
        raise ValueError(f"{value} is not a share between 0 and 1")
    return value


def _above(minimum: float):
    def parse(text: str) -> float:
        value = float(text)
        if not value > minimum:  # also refuses nan
            raise ValueError(f"{value} is not above {minimum:g}")
        return value

    return parse


def setting(default, env: str, help: str, parse=None, shown: str | None = None):
    """A field of `Settings`: its environment variable (CSMETRICS_<env>), the help line that
    `csmetrics --help` and README show, and how its text is parsed (the default's type)."""
    factory = {"default_factory": lambda: dict(default)} if isinstance(default, dict) else {"default": default}
    return field(**factory, metadata={"env": f"CSMETRICS_{env}", "help": help, "parse": parse, "shown": shown})


# The records a shuffle partition is sized for (a day's messages, a landed batch).
RECORDS_PER_SHUFFLE_PARTITION = 250_000


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know besides its date, each declared once with its help."""

    warehouse: str = setting("var/warehouse", "WAREHOUSE", "root of all Delta tables (bronze/, quarantine/, staging/, quality/, gold/)", _absolute)
    landing: str = setting("var/landing", "LANDING", "landing zone root (<table>/dt=YYYY-MM-DD/*.parquet)", _absolute)
    gx_root: str = setting(
        "", "GX_ROOT", "local folder of the GX project (results, Data Docs); set it when the warehouse is remote",
        lambda text: _absolute(text) if text else "", shown="<warehouse>/quality/gx",
    )
    spark_master: str = setting("local[*]", "SPARK_MASTER", "Spark master, e.g. spark://host:7077")
    spark_conf: dict[str, str] = setting({}, "SPARK_CONF", "extra Spark settings, key=value;key=value", _parse_pairs, shown="")
    shuffle_partitions: int = setting(
        8, "SHUFFLE_PARTITIONS", f"spark.sql.shuffle.partitions; about one per {RECORDS_PER_SHUFFLE_PARTITION:,d} messages a day", _at_least(1)
    )
    driver_memory: str = setting("4g", "DRIVER_MEMORY", "spark.driver.memory")
    business_start: time = setting(time(8, 0, 0), "BUSINESS_START", "start of business hours, local time", time.fromisoformat)
    business_end: time = setting(
        time(23, 0, 0), "BUSINESS_END", "end of business hours, local time (after their start, the same day)", time.fromisoformat
    )
    landing_lookback_days: int = setting(
        7, "LANDING_LOOKBACK_DAYS", (
            "a daily run looks for new files in the landing zone's arrival partitions of its cutoff's date (R + 1) and this "
            "many days before it; the run for each Sunday, a run whose lookback holds no ingested file, backfills, restatements "
            "and releases list every partition; 0: every run lists every partition"
        ),
        _days_back,
    )
    max_invalid_share: float = setting(
        0.01, "MAX_INVALID_SHARE", "share of an event table's records that may be invalid in one run before it fails (snapshot tables are judged per record)",
        _share,
    )
    unreadable_files: str = setting(
        "fail", "UNREADABLE_FILES", "fail: a landed file that cannot be read stops the run; quarantine: record it and publish without it",
        _choice("fail", "quarantine"),
    )
    on_empty_day: str = setting(
        "fail", "ON_EMPTY_DAY", "fail: a run whose date has no sessions or messages file landed stops (an upstream outage); warn: publish the empty day",
        _choice("fail", "warn"),
    )
    volume_anomaly_factor: float = setting(
        3.0, "VOLUME_ANOMALY_FACTOR", "warn when consult_sessions leaves [median / f, median x f] of its trailing 7 days, per shop and platform",
        _above(1),
    )
    volume_collapse_factor: float = setting(
        10.0, "VOLUME_COLLAPSE_FACTOR", "block the publish when the platform's consult_sessions falls below its trailing 7-day median / f",
        _above(1),
    )
    max_held_back_share: float = setting(
        0.01, "MAX_HELD_BACK_SHARE", "share of a run's shop-days that row-level gold checks may hold back (at least 10 always may) before the run fails",
        _share,
    )
    min_support: int = setting(10, "MIN_SUPPORT", "denominator (or count) a shop needs to be a peer or be ranked")
    min_peers: int = setting(
        5, "MIN_PEERS", "supported shops a peer group (platform, category, tier) needs for its peer and scene benchmarks "
        "to be published, and a (platform, category) for its shops' experience score points (fewer would disclose a "
        "competitor's values)", _at_least(1),
    )
    experience_indicators: str = setting(
        "", "EXPERIENCE_INDICATORS", "the service experience score's indicators and weights, e.g. "
        "complaint_rate_14d:2;reply_3min_rate:1;dispute_merchant_rate:1 (docs/derived.md)",
        shown="the five core indicators, equal weights",
    )
    alert_z: float = setting(
        3.5, "ALERT_Z", "alert when a day's robust z-score against the shop's last 28 days passes this, in the bad direction, "
        "and the day is worse than the peers' average (docs/derived.md)", _above(0),
    )
    alert_critical_z: float = setting(6.0, "ALERT_CRITICAL_Z", "an alert's z-score from which its severity is critical, not warn", _above(0))
    min_scene_ratings: int = setting(5, "MIN_SCENE_RATINGS", "ratings a scene needs over the report's 30 days to be ranked among a shop's worst scenes")
    governance_thresholds: str = setting(
        "", "GOVERNANCE_THRESHOLDS", "governance thresholds, e.g. pickup_rate>=0.85;avg_wait_seconds<300", shown="SPEC §5"
    )
    log_file: str = setting(
        "var/log/csmetrics.log", "LOG_FILE", "where Spark's, GX's and py4j's own warnings go (appended; one file for all runs)", _absolute
    )
    console_log_level: str = setting(
        "error", "CONSOLE_LOG_LEVEL", "from which level those libraries' lines also reach the terminal: error, warn (the CLI's --verbose) or info",
        _choice("error", "warn", "info"),
    )
    export_dir: str = setting(
        "var/exports", "EXPORT_DIR", "where csmetrics export (and the leaderboard export DAG) writes one CSV per table and stat_date", _absolute
    )
    retain_days: int = setting(
        30, "RETAIN_DAYS", "days of table history that maintenance keeps for time travel (VACUUM; at least 7), and of GX results and Data Docs",
        _at_least(7),
    )
    staging_keep_days: int = setting(
        7, "STAGING_KEEP_DAYS", (
            "days a run's staging tables (written when the gold gate stops a run, or by `csmetrics compute` on its own) "
            "are kept for inspection or a retried publish; 0 removes them once the run has published"
        ),
        _at_least(0),
    )
    catalog_schema: str = setting("", "CATALOG_SCHEMA", "register the gold tables as <schema>.<table> in the Spark catalog", shown="none")

    @classmethod
    def from_env(cls) -> Settings:
        values, texts = {}, {}
        for f in fields(cls):
            text = os.environ.get(f.metadata["env"])
            if text is None:
                text = "" if f.metadata["parse"] and f.default is MISSING else _text(f.default)
            parse = f.metadata["parse"] or type(f.default)
            try:
                values[f.name], texts[f.name] = parse(text), text
            except ValueError as error:
                raise SettingsError(f"{f.metadata['env']}={text!r} cannot be used: {error} (expected: {f.metadata['help']})") from None
        _check_business_hours(values, texts)
        return cls(**values)

    @property
    def gx_project(self) -> str:
        """A local folder: GX keeps its results and Data Docs on the driver's file system."""
        return self.gx_root or f"{self.warehouse}/quality/gx"

    def table_path(self, layer: str, table: str) -> str:
        return f"{self.warehouse}/{layer}/{table}"


def _check_business_hours(values: dict, texts: dict) -> None:
    """Business hours end after they start: two settings valid alone but not together."""
    if values["business_end"] <= values["business_start"]:
        raise SettingsError(
            f"CSMETRICS_BUSINESS_END={texts['business_end']!r} cannot be used: business hours must end after "
            f"CSMETRICS_BUSINESS_START {_text(values['business_start'])} (the same local day)"
        )


def environment_help() -> str:
    """The settings as `csmetrics --help` lists them."""
    lines = ["configuration (environment variables):"]
    for f in fields(Settings):
        shown = f.metadata["shown"] if f.metadata["shown"] is not None else _text(f.default if f.default is not MISSING else "")
        default = f" (default {shown})" if shown else ""
        lines.append(f"  {f.metadata['env']}\n      {f.metadata['help']}{default}")
    return "\n".join(lines)


def environment_table() -> str:
    """The settings as a Markdown table (README "Configuration" embeds it)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in fields(Settings):
        shown = f.metadata["shown"] if f.metadata["shown"] is not None else _text(f.default if f.default is not MISSING else "")
        rows.append(f"| `{f.metadata['env']}` | {f'`{shown}`' if shown else ''} | {f.metadata['help']} |")
    return "\n".join(rows)
