"""Run the DuckDB reference of SPEC §4 over a landing zone.

    .venv/bin/python bench/reference/duckdb_reference.py --landing var/bench/landing \
        --cutoff 2026-03-04T14:00:00+00:00 --dates 2026-03-02,2026-03-03 --out /tmp/duckdb_rows.parquet

Reads every file that had landed (modification time) by --cutoff (what the Spark run for the
day after sees), computes conversation_metrics.sql (and, with --all-families,
delayed_metrics.sql: every other metric of SPEC §4) and writes the long rows to --out:
stat_date, shop_id, agent_id, segment, metric, numerator, denominator. Prints one JSON line:
rows written and wall time (reading the Parquet included).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

CONVERSATION_SQL = Path(__file__).with_name("conversation_metrics.sql")
DELAYED_SQL = Path(__file__).with_name("delayed_metrics.sql")
CONVERSATION_TABLES = ("shops", "sessions", "messages")
ALL_TABLES = (*CONVERSATION_TABLES, "ratings", "orders", "after_sales", "complaints")


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
            temp_dir: Path | None, tables: tuple[str, ...] = CONVERSATION_TABLES) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if temp_dir:
        con.execute(f"SET temp_directory = {_quoted(str(temp_dir))}")
    for table in tables:
        files = landed_by(landing / table, cutoff)
        con.execute(f"CREATE TABLE files_{table} (filename VARCHAR, landed_at TIMESTAMPTZ)")
        if files:
            con.executemany(f"INSERT INTO files_{table} VALUES (?, ?)", files)
        # Nothing landed yet: any file of the table gives the view its columns, the join no row.
        read = [f for f, _ in files] or [str(next((landing / table).glob("dt=*/*.parquet")))]
        listed = "[" + ", ".join(_quoted(f) for f in read) + "]"
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
        threads: int | None = None, temp_dir: Path | None = None, all_families: bool = False) -> dict:
    started = time.perf_counter()
    con = connect(landing, cutoff, dates, business_hours, threads, temp_dir, ALL_TABLES if all_families else CONVERSATION_TABLES)
    con.execute(CONVERSATION_SQL.read_text())
    result = "SELECT *, 'all' AS segment FROM conversation_rows"
    if all_families:
        con.execute(DELAYED_SQL.read_text())
        result += " UNION ALL BY NAME SELECT * FROM delayed_rows"
    con.execute(f"CREATE TABLE reference_rows AS {result}")
    con.execute(f"COPY reference_rows TO {_quoted(str(out))} (FORMAT parquet)")
    rows = con.execute("SELECT count(*) FROM reference_rows").fetchone()[0]
    return {"rows": rows, "wall_seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, required=True, help="landing zone root (<landing>/<table>/dt=…/*.parquet)")
    parser.add_argument("--cutoff", type=datetime.fromisoformat, required=True, help="landing-time cutoff (UTC instant, ISO 8601)")
    parser.add_argument("--dates", required=True, help="comma-separated stat_dates to compute")
    parser.add_argument("--out", type=Path, required=True, help="Parquet file for the long metric rows")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--temp-dir", type=Path, default=None, help="where DuckDB spills (default: its own)")
    parser.add_argument("--all-families", action="store_true", help="every metric of SPEC §4, not only the conversation ones")
    args = parser.parse_args(argv)
    dates = [date.fromisoformat(d) for d in args.dates.split(",")]
    print(json.dumps(run(args.landing, args.cutoff, dates, args.out, threads=args.threads, temp_dir=args.temp_dir,
                         all_families=args.all_families)))


if __name__ == "__main__":
    main()
