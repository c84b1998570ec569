"""Export a gold table for a dashboard, one CSV per stat_date, re-writing only the dates
that changed since the last export.

What changed comes from the table's Change Data Feed, read with delta-rs (`deltalake`): no
Spark, so a consumer DAG (dags/csmetrics_leaderboard_export.py) runs it in seconds whenever
the table's Airflow Asset is updated. Each date's file is replaced whole, by rename, so a
dashboard never reads half a file. The version exported last is kept beside the files.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv
from deltalake import DeltaTable

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
        raise SettingsError(
            f"{path} is not a Delta table yet: run the daily pipeline first, or point CSMETRICS_WAREHOUSE at the warehouse that holds gold/{table_name}"
        )
    table = DeltaTable(path)
    version = table.version()
    last = int(state.read_text()) if state.exists() else None
    if last == version:
        progress(f"{table_name}: nothing changed since version {version}")
        return []
    if last is None:
        dates = sorted(pc.unique(table.to_pyarrow_table(columns=[PARTITION])[PARTITION]).to_pylist())
    else:
        dates = changed_dates(table, last, version)
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
