"""Check a warehouse's final gold rows against the DuckDB reference of every SPEC §4 metric.

    .venv/bin/python bench/reference/check_gold.py --landing var/demo/landing \\
        --warehouse var/demo/warehouse --first-run 2026-03-02 --last-run 2026-03-04

A (stat_date, metric) slice with window w is made final by the run for stat_date + w, which
saw the files landed by that run's cutoff. For every run date in [--first-run, --last-run],
this computes the slices that run made final with the reference SQL over exactly those files
(bench/reference/duckdb_reference.py --all-families), and compares them with the final rows of
gold/shop_metrics_daily and gold/agent_metrics_daily, read with delta-rs (no Spark): rows only
one side has, and numerators or denominators that differ by more than 1e-9 relative.
Shop-days the gold gate held back are left out. Exits 1 when anything differs.

Assumes daily runs without restatement (a restated slice saw every landed file instead).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import deltalake
import duckdb

sys.path.insert(0, str(Path(__file__).parent))
import duckdb_reference  # noqa: E402

from csmetrics import registry  # noqa: E402
from csmetrics.schedule import cutoff  # noqa: E402

KEYS = "stat_date, shop_id, agent_id, segment, metric"


def final_gold(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    """Table gold(stat_date, shop_id, agent_id, segment, metric, numerator, denominator) of final rows."""
    shop = deltalake.DeltaTable(str(warehouse / "gold" / "shop_metrics_daily")).to_pyarrow_table()  # noqa: F841
    agent = deltalake.DeltaTable(str(warehouse / "gold" / "agent_metrics_daily")).to_pyarrow_table()  # noqa: F841
    held_path = warehouse / "quality" / "held_back"
    held_back = deltalake.DeltaTable(str(held_path)).to_pyarrow_table(columns=["stat_date", "shop_id"]) if held_path.exists() else None
    con.execute(f"""
        CREATE TABLE gold AS
        SELECT stat_date, shop_id, NULL::VARCHAR AS agent_id, segment, metric, numerator, denominator FROM shop WHERE maturity = 'final'
        UNION ALL
        SELECT {KEYS}, numerator, denominator FROM agent WHERE maturity = 'final'
    """)
    con.execute("CREATE TABLE held (stat_date DATE, shop_id VARCHAR)")
    if held_back is not None:
        con.execute("INSERT INTO held SELECT DISTINCT stat_date, shop_id FROM held_back")


def reference(con: duckdb.DuckDBPyConnection, landing: Path, first_run: date, last_run: date, scratch: Path) -> None:
    """Table reference: the slices each run of the range made final, computed from its files."""
    slices_by_run: dict[date, list[tuple[date, str]]] = defaultdict(list)
    for metric in registry.METRICS:
        for offset in range((last_run - first_run).days + 1):
            run_date = first_run + timedelta(days=offset)
            slices_by_run[run_date].append((run_date - timedelta(days=metric.window_days), metric.id))
    con.execute("CREATE TABLE reference (stat_date DATE, shop_id VARCHAR, agent_id VARCHAR, segment VARCHAR, metric VARCHAR, "
                "numerator DOUBLE, denominator DOUBLE)")
    # Every slice a run of the range made final, with reference rows or not: gold's final rows
    # of a slice the reference left empty are compared too (as rows only gold has).
    con.execute("CREATE TABLE made_final (stat_date DATE, metric VARCHAR)")
    for run_date, slices in sorted(slices_by_run.items()):
        out = scratch / f"reference_{run_date}.parquet"
        dates = sorted({day for day, _ in slices})
        result = duckdb_reference.run(landing, cutoff(run_date), dates, out, all_families=True)
        print(f"  run {run_date}: reference of {len(dates)} dates, {result['rows']:,d} rows in {result['wall_seconds']:.1f} s", flush=True)
        con.execute("CREATE OR REPLACE TEMP TABLE owned (stat_date DATE, metric VARCHAR)")
        con.executemany("INSERT INTO owned VALUES (?, ?)", [(day.isoformat(), metric) for day, metric in slices])
        con.execute("INSERT INTO made_final SELECT * FROM owned")
        con.execute(f"INSERT INTO reference SELECT {KEYS}, numerator, denominator FROM read_parquet('{out}') JOIN owned USING (stat_date, metric)")


def compare(con: duckdb.DuckDBPyConnection) -> int:
    con.execute("""
        CREATE TABLE compared AS
        SELECT coalesce(g.metric, r.metric) AS metric,
               CASE WHEN r.metric IS NULL THEN 'only gold'
                    WHEN g.metric IS NULL THEN 'only reference'
                    WHEN abs(g.numerator - r.numerator) > 1e-9 * greatest(1, abs(r.numerator))
                      OR abs(coalesce(g.denominator, 0) - coalesce(r.denominator, 0)) > 1e-9 * greatest(1, abs(coalesce(r.denominator, 0)))
                    THEN 'different' ELSE 'same' END AS outcome,
               coalesce(g.stat_date, r.stat_date) AS stat_date, coalesce(g.shop_id, r.shop_id) AS shop_id,
               coalesce(g.agent_id, r.agent_id) AS agent_id, coalesce(g.segment, r.segment) AS segment,
               g.numerator AS gold_numerator, r.numerator AS reference_numerator,
               g.denominator AS gold_denominator, r.denominator AS reference_denominator
        FROM (SELECT * FROM gold WHERE (stat_date, metric) IN (SELECT stat_date, metric FROM made_final)) g
        FULL JOIN (SELECT * FROM reference WHERE (stat_date, shop_id) NOT IN (SELECT stat_date, shop_id FROM held)) r
          ON g.stat_date = r.stat_date AND g.shop_id = r.shop_id AND g.agent_id IS NOT DISTINCT FROM r.agent_id
         AND g.segment = r.segment AND g.metric = r.metric
    """)
    table = con.sql("""
        SELECT metric, count(*) FILTER (WHERE outcome = 'same') AS same, count(*) FILTER (WHERE outcome = 'different') AS different,
               count(*) FILTER (WHERE outcome = 'only gold') AS only_gold, count(*) FILTER (WHERE outcome = 'only reference') AS only_reference
        FROM compared GROUP BY metric ORDER BY metric
    """).fetchall()
    print(f"{'metric':<28}{'same':>8}{'different':>11}{'only gold':>11}{'only ref':>10}")
    for metric, same, different, only_gold, only_reference in table:
        print(f"{metric:<28}{same:>8,d}{different:>11,d}{only_gold:>11,d}{only_reference:>10,d}")
    bad = con.sql("SELECT * FROM compared WHERE outcome <> 'same' ORDER BY metric, stat_date, shop_id LIMIT 10").fetchall()
    for row in bad:
        print("  ", row)
    missing = {m.id for m in registry.METRICS} - {metric for metric, *_ in table}
    if missing:
        print(f"no final row to compare for: {', '.join(sorted(missing))}")
    return sum(different + only_gold + only_reference for _, _, different, only_gold, only_reference in table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, required=True, help="landing zone root the runs read")
    parser.add_argument("--warehouse", type=Path, required=True, help="warehouse root of the runs")
    parser.add_argument("--first-run", type=date.fromisoformat, required=True, help="first daily run date")
    parser.add_argument("--last-run", type=date.fromisoformat, required=True, help="last daily run date")
    args = parser.parse_args(argv)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    final_gold(con, args.warehouse)
    with tempfile.TemporaryDirectory() as scratch:
        reference(con, args.landing, args.first_run, args.last_run, Path(scratch))
        differences = compare(con)
    print("every final row equals the reference" if differences == 0 else f"{differences:,d} rows differ")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
