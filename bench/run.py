"""The benchmark: the daily Spark job against a DuckDB reference, at several scales.

For each scale (messages in the benchmarked day) it
  1. generates one day of landing Parquet (20,000 Zipf-skewed shops by default),
  2. runs the daily Spark job on it as the run for the day after does (the run that makes
     the day final): ingest landing -> bronze, then compute the metrics into staging
     (bench/spark_daily.py, its own process and JVM),
  3. runs the DuckDB SQL reference of the conversation metrics over the same landing
     Parquet (bench/reference/, its own process),
  4. checks that both give the same conversation metric rows (both grains),
and prints one table: messages, wall time, messages per second and peak memory (PSS of the
whole process tree, JVM included, and its anonymous part: bench/measure.py) of each, and
the ratio Spark / DuckDB.

    bin/bench                                  # 2.5M, 10M and 40M messages (about 30 minutes)
    bin/bench --scales 2.5M --work /tmp/csb    # one quick scale
    bin/bench --whole-run --scales 2.5M        # every step of the daily run, all 33 metrics compared
    bin/bench --history-days 14 --scales 250K  # the same day cold, then warm after 14 days of history

With --whole-run, the Spark side is the whole daily run (ingest, bronze gate, then compute of
every family, gold gate and publish as one step, as the daily run's gold phase runs them, then
derive; one row per step) and the DuckDB reference computes every
metric of SPEC §4 (bench/reference/delayed_metrics.sql too); the values compared are every
(stat_date, metric) slice the run owns, at both grains and in every segment.

With --history-days N (a whole run), the run that makes the benchmarked day final (the run for
the day after) is timed twice, each side by side with DuckDB, on the same files: those landed
since the cutoff of the run before it (the day after's, and late and re-sent batches of the
days before), with the shop and agent snapshots. Cold: in an empty warehouse, fed only those
files. Warm: after `csmetrics backfill` of the N runs before it (the benchmarked day and the
N - 1 days before) from all the files, as in production. The days of those runs and the day
after are generated at the scale. The warm run's ratio to the cold run is what history costs
(issue 29's target: at most 1.15x).

Figures are printed (and saved as results.json under --work), never asserted: this is a
measuring tool, not a test. The targets it reports on are those of the project's issues 15
(the compute) and 29 (the whole run, ingest). With --whole-run, each step's Spark jobs and
Delta commits are printed beside its time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from measure import run_measured

BENCH = Path(__file__).resolve().parent
MESSAGES_PER_SESSION = 10  # what the generator produces on average
GIB = 2**30

# Targets on the 2-core machine: the compute's (issue 15); the whole run's, by scale, and
# ingest's (issue 29).
RATIO_TARGET, RATIO_SCALE = 2.0, 10_000_000
WHOLE_RUN_RATIO_TARGETS = {2_500_000: 15.0, 10_000_000: 8.0}
INGEST_TARGET = 120_000
WARM_TARGET = 1.15  # the run of a day after history / the run of the same day in an empty warehouse
SCALING_TARGET, SCALING_FROM, SCALING_TO = 1.1, 10_000_000, 40_000_000
MEMORY_TARGET = 6 * 10**9


def parse_scale(text: str) -> int:
    text = text.strip().upper().replace("_", "")
    factor = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * factor)


def label(messages: int) -> str:
    return f"{messages / 1e6:g}M"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="2.5M,10M,40M",
                        help="comma-separated messages per day, e.g. 2.5M,10M,40M (default)")
    parser.add_argument("--shops", type=int, default=20_000, help="shops, Zipf-skewed sizes (default 20,000)")
    parser.add_argument("--work", type=Path, default=Path("var/bench"),
                        help="scratch folder, one sub-folder per scale (default var/bench)")
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 3, 2), help="the benchmarked date")
    parser.add_argument("--families", default="conversation",
                        help="metric families the Spark job computes, comma-separated, or 'all' for the whole "
                             "daily compute (default conversation: the work the reference does)")
    parser.add_argument("--shuffle-partitions", type=int, default=None,
                        help="spark.sql.shuffle.partitions (default: one per 250,000 messages, at least 16; "
                             "adaptive execution coalesces the small ones)")
    parser.add_argument("--driver-memory", default="4g", help="spark.driver.memory of local[*] (default 4g)")
    parser.add_argument("--duckdb-threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--whole-run", action="store_true",
                        help="time every step of the daily run and compare all metrics (see above)")
    parser.add_argument("--report", type=Path, default=None,
                        help="print the table of an earlier run's results.json and stop (nothing is run)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the landing data and bronze of an earlier run and time the compute only")
    parser.add_argument("--history-days", type=int, default=0, metavar="N",
                        help="also time the day warm: after a backfill of the N days before it (implies "
                             "--whole-run; see above)")
    args = parser.parse_args(argv)
    if args.history_days:
        if args.reuse:
            parser.error("--history-days lays down its own warehouses: it cannot --reuse one")
        args.whole_run = True
    return args


def generate(landing: Path, messages: int, shops: int, day: date, history_days: int = 0) -> None:
    """One day of landing files; or, with history, the days of the `history_days` runs before
    the timed run (that for the day after `day`) and the day after itself, which the timed run
    computes too (the gold gate compares its volume with the history's)."""
    first, days = (day + timedelta(days=1 - history_days), history_days + 1) if history_days else (day, 1)
    command = [sys.executable, "-m", "csmetrics.cli", "generate", "--out", str(landing), "--shops", str(shops),
               "--days", str(days), "--start", str(first),
               "--sessions-per-day", str(messages // MESSAGES_PER_SESSION)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def link_landing(generated: Path, landing: Path, landed_after: datetime | None = None) -> None:
    """Hard links to the generated files under a new landing root (their landing times, the
    files' modification times, are kept): all of them, or those that landed after
    `landed_after`, with the daily shop and agent snapshots."""
    for source in generated.rglob("*.parquet"):
        if landed_after is None or source.name == "part-snapshot.parquet" or source.stat().st_mtime > landed_after.timestamp():
            target = landing / source.relative_to(generated)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)


def backfill_history(scale_dir: Path, args: argparse.Namespace, partitions: int) -> float:
    """`csmetrics backfill` of the --history-days runs before the timed one (the runs for the
    benchmarked day and the days before it), as an operator lays down history; returns its
    wall time."""
    start = args.day + timedelta(days=1 - args.history_days)
    command = [sys.executable, "-m", "csmetrics.cli", "backfill", "--start", str(start), "--end", str(args.day)]
    env = os.environ | {
        "CSMETRICS_WAREHOUSE": str(scale_dir / "warehouse"),
        "CSMETRICS_LANDING": str(scale_dir / "landing"),
        "CSMETRICS_SHUFFLE_PARTITIONS": str(partitions),
        "CSMETRICS_DRIVER_MEMORY": args.driver_memory,
    }
    started = time.perf_counter()
    with open(scale_dir / "backfill.log", "w") as log:
        done = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"the history backfill failed (exit {done.returncode}); see {scale_dir / 'backfill.log'}")
    return time.perf_counter() - started


def shuffle_partitions(messages: int, args: argparse.Namespace) -> int:
    # Tasks of bounded size whatever the scale: with 16 partitions, ingesting 10 million
    # messages ran out of aggregation memory in a 4 GB driver.
    return args.shuffle_partitions or max(16, messages // 250_000)


def run_spark(day_dir: Path, args: argparse.Namespace, skip_ingest: bool, partitions: int) -> dict:
    command = [sys.executable, str(BENCH / "spark_daily.py"), "--work", str(day_dir), "--day", str(args.day),
               "--families", args.families, "--compare-out", str(day_dir / "spark_rows")]
    if skip_ingest:
        command.append("--skip-ingest")
    if args.whole_run:
        command.append("--whole-run")
    env = os.environ | {
        "CSMETRICS_SHUFFLE_PARTITIONS": str(partitions),
        "CSMETRICS_DRIVER_MEMORY": args.driver_memory,
    }
    result, peak, anonymous, wall = run_measured(command, env, day_dir / "spark.log")
    return result | {"peak_bytes": peak, "peak_anonymous_bytes": anonymous, "process_seconds": wall,
                     "shuffle_partitions": partitions}


def run_duckdb(day_dir: Path, args: argparse.Namespace, cutoff: datetime, dates: list[date]) -> dict:
    command = [sys.executable, str(BENCH / "reference" / "duckdb_reference.py"), "--landing", str(day_dir / "landing"),
               "--cutoff", cutoff.isoformat(), "--dates", ",".join(map(str, dates)), "--out", str(day_dir / "duckdb_rows.parquet"),
               "--temp-dir", str(day_dir / "duckdb_tmp")]
    if args.duckdb_threads:
        command += ["--threads", str(args.duckdb_threads)]
    if args.whole_run:
        command.append("--all-families")
    result, peak, anonymous, wall = run_measured(command, os.environ.copy(), day_dir / "duckdb.log")
    return result | {"peak_bytes": peak, "peak_anonymous_bytes": anonymous, "process_seconds": wall}


def compare(day_dir: Path, owned: list[tuple[date, str]]) -> dict:
    """Rows only one side has, and rows whose numerator or denominator differ (relative 1e-9),
    over the (stat_date, metric) slices the Spark run owns."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE owned (stat_date DATE, metric VARCHAR)")
    con.executemany("INSERT INTO owned VALUES (?, ?)", [(day.isoformat(), metric) for day, metric in owned])
    spark_rows = f"(SELECT * FROM read_parquet('{day_dir / 'spark_rows' / '*.parquet'}') JOIN owned USING (stat_date, metric))"
    duckdb_rows = f"(SELECT * FROM read_parquet('{day_dir / 'duckdb_rows.parquet'}') JOIN owned USING (stat_date, metric))"
    [(only_spark, only_duckdb, different, rows)] = con.sql(f"""
        SELECT count(*) FILTER (WHERE d.metric IS NULL),
               count(*) FILTER (WHERE s.metric IS NULL),
               count(*) FILTER (WHERE abs(s.numerator - d.numerator) > 1e-9 * greatest(1, abs(d.numerator))
                                   OR abs(coalesce(s.denominator, 0) - coalesce(d.denominator, 0))
                                      > 1e-9 * greatest(1, abs(coalesce(d.denominator, 0)))),
               count(*)
        FROM {spark_rows} s
        FULL JOIN {duckdb_rows} d
          ON s.stat_date = d.stat_date AND s.shop_id = d.shop_id AND s.metric = d.metric
         AND s.agent_id IS NOT DISTINCT FROM d.agent_id AND s.segment = d.segment
    """).fetchall()
    return {"only_spark": only_spark, "only_duckdb": only_duckdb, "different": different, "rows": rows}


def bench_scale(messages: int, args: argparse.Namespace, progress) -> dict:
    scale_dir = (args.work / label(messages)).resolve()
    name = label(messages)
    if args.history_days:
        return bench_cold_and_warm(scale_dir, messages, args, lambda message: progress(f"[{name}] {message}"))
    reuse = args.reuse and (scale_dir / "warehouse").exists()
    if not reuse:
        shutil.rmtree(scale_dir, ignore_errors=True)
        started = time.perf_counter()
        progress(f"[{name}] generating one day of about {messages:,d} messages")
        generate(scale_dir / "landing", messages, args.shops, args.day)
        progress(f"[{name}] generated in {time.perf_counter() - started:.0f} s")
    return {"scale": name, **bench_day(scale_dir, messages, args, lambda message: progress(f"[{name}] {message}"), reuse)}


def bench_cold_and_warm(scale_dir: Path, messages: int, args: argparse.Namespace, progress) -> dict:
    """The run that makes the benchmarked day final in an empty warehouse, then after
    --history-days runs of history."""
    from csmetrics.schedule import cutoff

    shutil.rmtree(scale_dir, ignore_errors=True)
    generated = scale_dir / "generated"
    started = time.perf_counter()
    progress(f"generating {args.history_days + 1} days of about {messages:,d} messages each")
    generate(generated, messages, args.shops, args.day, args.history_days)
    progress(f"generated in {time.perf_counter() - started:.0f} s")
    cold, warm = scale_dir / "cold", scale_dir / "warm"
    # What the run of the day after the history reads: the files landed since the last
    # history run's cutoff.
    link_landing(generated, cold / "landing", landed_after=cutoff(args.day))
    link_landing(generated, warm / "landing")
    result = {"scale": label(messages), **bench_day(cold, messages, args, lambda message: progress(f"cold: {message}"))}
    progress(f"warm: backfilling the {args.history_days} days up to {args.day}")
    history_seconds = backfill_history(warm, args, shuffle_partitions(messages, args))
    progress(f"warm: history laid down in {history_seconds:.0f} s")
    result["warm"] = bench_day(warm, messages, args, lambda message: progress(f"warm: {message}")) | {
        "history_days": args.history_days, "history_seconds": history_seconds}
    return result


def bench_day(day_dir: Path, messages: int, args: argparse.Namespace, progress, reuse: bool = False) -> dict:
    """The Spark run that makes the benchmarked day final, the DuckDB reference on the same
    landing files, and their comparison."""
    from csmetrics.plan import RunPlan
    from csmetrics.schedule import cutoff

    run_day = args.day + timedelta(days=1)
    progress(f"Spark daily job ({'compute only' if reuse else 'ingest + compute'})")
    spark = run_spark(day_dir, args, skip_ingest=reuse, partitions=shuffle_partitions(messages, args))
    progress("Spark done: " + ", ".join(f"{s['seconds']:.0f} s {s['step']}" for s in steps(spark)) + "; DuckDB reference")
    plan = RunPlan(run_day) if args.whole_run else RunPlan(run_day, ("conversation",))
    owned = [(day, metric) for day, metrics in plan.metrics_by_date().items() for metric in metrics]
    duck = run_duckdb(day_dir, args, cutoff(run_day), plan.dates)
    progress(f"DuckDB done: {duck['wall_seconds']:.0f} s; comparing values")
    return {"messages": spark["messages"], "spark": spark, "duckdb": duck, "comparison": compare(day_dir, owned)}


def steps(spark: dict) -> list[dict]:
    """The timed Spark steps of one scale: every step of a whole run, or ingest and compute
    (results.json files of 2026-11-23 and before kept them as flat keys)."""
    if "steps" in spark:
        return spark["steps"]
    timed = [("ingest", "ingest")] if "ingest_seconds" in spark else []
    return [
        {"step": name, "seconds": spark[f"{key}_seconds"], "peak_bytes": spark[f"{key}_peak_bytes"],
         "peak_anonymous_bytes": spark[f"{key}_peak_anonymous_bytes"]}
        for name, key in [*timed, ("compute", "compute")]
    ]


def is_whole_run(spark: dict) -> bool:
    """Whether a scale's Spark side was the whole daily run (results.json of 2026-11-26 had
    steps only then)."""
    return spark.get("whole_run", "steps" in spark)


def print_table(results: list[dict], args: argparse.Namespace) -> None:
    whole = any(is_whole_run(r["spark"]) for r in results)
    print(f"\ncsmetrics benchmark: one day, {args.shops:,d} shops, {os.cpu_count()} cores, Spark local[*] "
          f"(driver {args.driver_memory}, {'whole daily run' if whole else 'families: ' + args.families}; shuffle partitions: "
          f"{', '.join(str(r['spark']['shuffle_partitions']) for r in results)})")
    header = ("messages", "engine / step", "wall s", "messages/s", "peak GiB: PSS (anonymous)", "Spark/DuckDB", "same values")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in results:
        print_rows(r["messages"], r)
        if "warm" in r:
            print_rows(r["messages"], r["warm"], f"warm, after {r['warm']['history_days']} days of history: ")


def print_rows(n: int, r: dict, prefix: str = "") -> None:
    """The table rows of one benchmarked run: its Spark steps, the whole run and DuckDB's."""
    spark, duck, cmp = r["spark"], r["duckdb"], r["comparison"]
    same = "yes" if not (cmp["only_spark"] or cmp["only_duckdb"] or cmp["different"]) else (
        f"NO: {cmp['different']} differ, {cmp['only_spark']} only Spark, {cmp['only_duckdb']} only DuckDB")
    rows, whole = [], is_whole_run(spark)
    for step in steps(spark):
        is_compute = step["step"] == "compute" and not whole
        rows.append((f"{prefix}Spark {step['step']}" + jobs_and_commits([step]), step["seconds"],
                     (step["peak_bytes"], step["peak_anonymous_bytes"]),
                     f"{step['seconds'] / duck['wall_seconds']:.2f}" if is_compute else "", same if is_compute else ""))
    if len(steps(spark)) > 1:
        total = sum(step["seconds"] for step in steps(spark))
        name = ("Spark whole daily run (landing -> gold, every table)" if whole else "Spark ingest + compute (whole process)") + (
            jobs_and_commits(steps(spark)))
        rows.append((prefix + name, total, (spark["peak_bytes"], spark["peak_anonymous_bytes"]), f"{total / duck['wall_seconds']:.2f}",
                     same if whole else ""))
    rows.append((f"{prefix}DuckDB reference (landing -> metrics)", duck["wall_seconds"],
                 (duck["peak_bytes"], duck["peak_anonymous_bytes"]), "", f"{cmp['rows']:,d} rows"))
    for step, wall, (peak, anonymous), ratio_text, same_text in rows:
        print(f"| {n:,d} | {step} | {wall:.1f} | {n / wall:,.0f} | {peak / GIB:.2f} ({anonymous / GIB:.2f}) "
              f"| {ratio_text} | {same_text} |")
    copied = next((step["copied_rows"] for step in steps(spark) if "copied_rows" in step), None)
    if copied is not None:
        print(f"|  | {prefix}publish copied {sum(copied.values()):,d} rows of other slices out of the files it rewrote ("
              + ", ".join(f"{name} {rows:,d}" for name, rows in copied.items()) + ") |  |  |  |  |  |")
    if "landed_records" in spark and steps(spark)[0]["step"] == "ingest":
        seconds = steps(spark)[0]["seconds"]
        to_bronze = spark.get("ingested_bronze_records", spark["bronze_records"])
        print(f"|  | {prefix}ingest: {spark['landed_records']:,d} landed records of all tables, "
              f"{spark['landed_records'] / seconds:,.0f} records/s ({to_bronze:,d} of them to bronze) |  |  |  |  |  |")


def jobs_and_commits(timed: list[dict]) -> str:
    """`: N jobs, M commits` of whole-run steps (results of 2026-11-26 and before lack them)."""
    if not all("jobs" in step for step in timed):
        return ""
    return f": {sum(s['jobs'] for s in timed)} jobs, {sum(s['commits'] for s in timed)} commits"


def spark_seconds(result: dict) -> float:
    """What the ratio to DuckDB is taken of: the whole run, or the compute step."""
    timed = steps(result["spark"])
    return sum(s["seconds"] for s in timed) if is_whole_run(result["spark"]) else next(s["seconds"] for s in timed if s["step"] == "compute")


def print_targets(results: list[dict]) -> None:
    by_messages = {parse_scale(r["scale"]): r for r in results}
    whole = any(is_whole_run(r["spark"]) for r in results)

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print("\ntargets (issues 15 and 29)")
    ratio_targets = WHOLE_RUN_RATIO_TARGETS if whole else {RATIO_SCALE: RATIO_TARGET}
    for scale, target in ratio_targets.items():
        if scale in by_messages:
            r = by_messages[scale]
            ratio = spark_seconds(r) / r["duckdb"]["wall_seconds"]
            what = "whole daily run" if whole else "compute"
            print(f"  Spark {what} within {target:g}x of DuckDB at {label(scale)}: {ratio:.2f}x, {verdict(ratio <= target)}")
    for r in results:
        ingest = next((s for s in steps(r["spark"]) if s["step"] == "ingest"), None)
        if ingest and "landed_records" in r["spark"]:
            rate = r["spark"]["landed_records"] / ingest["seconds"]
            print(f"  ingest at {r['scale']} >= {INGEST_TARGET:,d} landed records/s: {rate:,.0f}, {verdict(rate >= INGEST_TARGET)}")
    for r in results:
        if "warm" in r:
            grown = spark_seconds(r["warm"]) / spark_seconds(r)
            print(f"  the run of a day at {r['scale']} after {r['warm']['history_days']} days of history within {WARM_TARGET:g}x "
                  f"of the same day's run in an empty warehouse: {grown:.2f}x, {verdict(grown <= WARM_TARGET)}")
    if SCALING_FROM in by_messages and SCALING_TO in by_messages:
        cost = {k: spark_seconds(by_messages[k]) / by_messages[k]["messages"] for k in (SCALING_FROM, SCALING_TO)}
        grown = cost[SCALING_TO] / cost[SCALING_FROM]
        print(f"  per-message cost at {label(SCALING_TO)} <= {SCALING_TARGET:g}x that at {label(SCALING_FROM)}: "
              f"{grown:.2f}x, {verdict(grown <= SCALING_TARGET)}")
    peak = max(run["spark"]["peak_bytes"] for r in results for run in (r, r.get("warm", r)))
    duckdb_peak = max(r["duckdb"]["peak_bytes"] for r in results)
    print(f"  Spark's peak memory under {MEMORY_TARGET / 1e9:g} GB: PSS {peak / 1e9:.2f} GB, {verdict(peak < MEMORY_TARGET)} "
          f"(DuckDB's: {duckdb_peak / 1e9:.2f} GB)")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.report:
        results = json.loads(args.report.read_text())
        print_table(results, args)
        print_targets(results)
        return
    scales = [parse_scale(s) for s in args.scales.split(",")]
    progress = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    results = []
    for messages in scales:
        results.append(bench_scale(messages, args, progress))
        (args.work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print_table(results, args)
    print_targets(results)
    print(f"\nraw figures: {(args.work / 'results.json').resolve()}")


if __name__ == "__main__":
    main()
