"""Run the DuckDB reference of the conversation metrics over a landing zone.

    .venv/bin/python bench/reference/duckdb_reference.py --landing var/bench/landing \
        --cutoff 2026-03-04T14:00:00+00:00 --dates 2026-03-02,2026-03-03 --out /tmp/duckdb_rows.parquet

Reads every file of shops, sessions and messages that had landed (modification time) by
--cutoff (what the Spark run for the day after sees), computes conversation_metrics.sql and writes its long rows to
--out. Prints one JSON line: rows written and wall time (reading the Parquet included).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

SQL = Path(__file__).with_name("conversation_metrics.sql")
TABLES = ("shops", "sessions", "messages")


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def landed_by(folder: Path, cutoff: datetime) -> list[tuple[str, datetime]]:
    """(file, landing time) of the data files under `folder` that had landed by `cutoff`."""
    files = []
    for path in sorted(folder.glob("dt=*/*.parquet")):
        landed_at = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        if landed_at <= cutoff and not path.name.startswith(("_", ".")):
            files.append((str(path), landed_at))
    return files


def connect(landing: Path, cutoff: datetime, dates: list[date], business_hours: tuple[int, int], threads: int | None,
            temp_dir: Path | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if temp_dir:
        con.execute(f"SET temp_directory = {_quoted(str(temp_dir))}")
    for table in TABLES:
        files = landed_by(landing / table, cutoff)
        con.execute(f"CREATE TABLE files_{table} (filename VARCHAR, landed_at TIMESTAMPTZ)")
        con.executemany(f"INSERT INTO files_{table} VALUES (?, ?)", files)
        listed = "[" + ", ".join(_quoted(f) for f, _ in files) + "]"
        con.execute(
            f"CREATE VIEW landed_{table} AS SELECT t.*, f.landed_at FROM read_parquet({listed}, hive_partitioning = true, "
            f"hive_types = {{'dt': DATE}}, filename = true) t JOIN files_{table} f USING (filename)"
        )
    con.execute("CREATE TABLE params AS SELECT unnest(?::DATE[]) AS stat_date", [[d.isoformat() for d in dates]])
    start, end = business_hours
    con.execute("CREATE TABLE hours AS SELECT ?::BIGINT AS business_start_us, ?::BIGINT AS business_end_us",
                [start * 3_600_000_000, end * 3_600_000_000])
    return con


def run(landing: Path, cutoff: datetime, dates: list[date], out: Path, business_hours: tuple[int, int] = (8, 23),
        threads: int | None = None, temp_dir: Path | None = None) -> dict:
    started = time.perf_counter()
    con = connect(landing, cutoff, dates, business_hours, threads, temp_dir)
    con.execute(SQL.read_text())
    con.execute(f"COPY conversation_rows TO {_quoted(str(out))} (FORMAT parquet)")
    rows = con.execute("SELECT count(*) FROM conversation_rows").fetchone()[0]
    return {"rows": rows, "wall_seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, required=True, help="landing zone root (<landing>/<table>/dt=…/*.parquet)")
    parser.add_argument("--cutoff", type=datetime.fromisoformat, required=True, help="landing-time cutoff (UTC instant, ISO 8601)")
    parser.add_argument("--dates", required=True, help="comma-separated stat_dates to compute")
    parser.add_argument("--out", type=Path, required=True, help="Parquet file for the long metric rows")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--temp-dir", type=Path, default=None, help="where DuckDB spills (default: its own)")
    args = parser.parse_args(argv)
    dates = [date.fromisoformat(d) for d in args.dates.split(",")]
    print(json.dumps(run(args.landing, args.cutoff, dates, args.out, threads=args.threads, temp_dir=args.temp_dir)))


if __name__ == "__main__":
    main()
