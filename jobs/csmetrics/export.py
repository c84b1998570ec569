"""Export a gold table for a dashboard, one CSV per stat_date, re-writing only the dates
that changed since the last export.

What changed comes from the table's Change Data Feed, read with delta-rs (`deltalake`): no
Spark, so a consumer DAG (dags/csmetrics_leaderboard_export.py) runs it in seconds whenever
the table's Airflow Asset is updated. Each date's file is replaced whole, by rename, so a
dashboard never reads half a file. The version exported last is kept beside the files; when
the history since that version is gone (VACUUM), the export stops and says to start over.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from csmetrics.config import Settings, SettingsError

PARTITION = "stat_date"


def changed_dates(table: DeltaTable, since_version: int, to_version: int) -> list[date]:
    """The stat_dates that the commits (since_version, to_version] inserted, updated or deleted."""
    feed = pa.RecordBatchReader.from_stream(
        table.load_cdf(starting_version=since_version + 1, ending_version=to_version, columns=[PARTITION])
    ).read_all()
    return sorted(pc.unique(feed[PARTITION]).to_pylist())


def export_table(settings: Settings, table_name: str, progress=print) -> list[date]:
    """Write `<export dir>/<table>/stat_date=YYYY-MM-DD.csv` for every date changed since the
    last export (every date the first time); return the dates written."""
    target = Path(settings.export_dir) / table_name
    state = target / "_exported_version"
    path = settings.table_path("gold", table_name)
    if not DeltaTable.is_deltatable(path):
        raise gold_table_missing(settings, table_name)
    table = DeltaTable(path)
    version = table.version()
    last = exported_version(state, table_name, version)
    if last == version:
        progress(f"{table_name}: nothing changed since version {version}")
        return []
    if last is None:
        dates = sorted(pc.unique(table.to_pyarrow_table(columns=[PARTITION])[PARTITION]).to_pylist())
    else:
        dates = _changed_dates_or_advice(table, table_name, last, version, state)
    target.mkdir(parents=True, exist_ok=True)
    for day in dates:
        rows = table.to_pyarrow_table(filters=[(PARTITION, "=", day)])
        rows = rows.sort_by([(c, "ascending") for c in rows.column_names if c in ("platform", "category", "metric", "rank", "shop_id")])
        final = target / f"{PARTITION}={day}.csv"
        partial = final.with_suffix(".csv.partial")
        csv.write_csv(rows, partial)
        os.replace(partial, final)
    state.write_text(f"{version}\n")
    progress(f"{table_name}: exported {len(dates)} date(s) at version {version} to {target}")
    return dates


def exported_version(state: Path, table_name: str, current: int) -> int | None:
    """The table version the last export wrote, from its state file; None before the first export."""
    if not state.exists():
        return None
    text = state.read_text().strip()
    if not text.isdecimal():
        raise SettingsError(f"{state} holds {text[:40]!r}, not a table version: delete it to export every date again")
    if int(text) > current:
        raise SettingsError(
            f"{state} says gold/{table_name} was exported at version {int(text)} but gold/{table_name} is at version {current} "
            "(was the table re-created?): delete it to export every date again"
        )
    return int(text)


def _changed_dates_or_advice(table: DeltaTable, table_name: str, last: int, version: int, state: Path) -> list[date]:
    try:
        return changed_dates(table, last, version)
    except (DeltaError, pa.ArrowException) as error:
        # The feed reads the files of every version since the last export: VACUUM removes them
        # after CSMETRICS_RETAIN_DAYS, and the log clean-up the versions' commits.
        raise SettingsError(
            f"the Change Data Feed of gold/{table_name} after version {last} can no longer be read (VACUUM removed the "
            f"history older than CSMETRICS_RETAIN_DAYS): delete {state} to export every date again"
        ) from error


def gold_table_missing(settings: Settings, table_name: str) -> SettingsError:
    """What to do when gold/<table> is not there: in an empty warehouse, run the pipeline or point at
    the right warehouse; otherwise the table is written by a step that has not run yet."""
    if not _holds_gold_tables(settings):
        return SettingsError(
            f"CSMETRICS_WAREHOUSE={settings.warehouse!r} holds no gold tables: run `csmetrics run --date YYYY-MM-DD` first, "
            "or point CSMETRICS_WAREHOUSE at the warehouse that holds them"
        )
    return SettingsError(
        f"gold/{table_name} does not exist in {settings.warehouse} yet: the daily pipeline writes it, "
        "run `csmetrics run --date YYYY-MM-DD` first"
    )


def _holds_gold_tables(settings: Settings) -> bool:
    """Whether the warehouse's gold folder holds any Delta table (assumed of a remote warehouse)."""
    if "://" in settings.warehouse:
        return True
    gold = Path(settings.warehouse) / "gold"
    return gold.is_dir() and any(DeltaTable.is_deltatable(str(folder)) for folder in gold.iterdir() if folder.is_dir())
