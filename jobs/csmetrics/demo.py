"""The README's main command: generated data -> csmetrics_daily through Airflow -> gold tables.

Run through `bin/demo`, which sets the environment (warehouse, landing, AIRFLOW_HOME).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

import pendulum
from pyspark.sql import Window
from pyspark.sql import functions as F

from csmetrics.config import Settings
from csmetrics_generate import GenerateOptions, generate


def _say(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


def run_dag(run_date: date):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag("csmetrics_daily")
    # dag.test() runs the tasks through Airflow's in-process execution API, whose `svcs`
    # imports FastAPI's TestClient; Starlette warns there that its httpx client is deprecated. The
    # warning is Airflow's own dependency's, and nothing a user of the demo can act on.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient` is deprecated")
    return dag.test(logical_date=pendulum.datetime(run_date.year, run_date.month, run_date.day, tz="UTC"))


def _largest_category(settings: Settings) -> str:
    from pyspark.sql import functions as F

    from csmetrics.spark import get_spark
    from csmetrics.tables import bronze

    shops = bronze("shops").read(get_spark(settings), settings)
    return shops.groupBy("category").count().orderBy(F.desc("count"), "category").first()["category"]


def busiest_shop(spark, settings: Settings) -> tuple[date, str]:
    """The last date with data (each run computes the day before its logical date) and the
    shop with most sessions on it among the largest peer group (platform, category, tier):
    the report with the most to compare."""
    from csmetrics.bronze import read_bronze
    from csmetrics.tables import SESSION_DETAIL_DAILY

    detail = SESSION_DETAIL_DAILY.read(spark, settings)
    last = detail.agg(F.max("stat_date")).first()[0]
    group = Window.partitionBy("platform", "category", "tier")
    shops = read_bronze(spark, settings, "shops").select("shop_id", F.count("*").over(group).alias("peers"))
    sessions = detail.where(F.col("stat_date") == F.lit(last)).groupBy("shop_id").count().join(shops, "shop_id")
    return last, sessions.orderBy(F.desc("peers"), F.desc("count"), "shop_id").first()["shop_id"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="csmetrics end to end on generated data, through Airflow.")
    parser.add_argument("--shops", type=int, default=40, help="shops to generate (default 40)")
    parser.add_argument("--days", type=int, default=4, help="days to generate and run (default 4)")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 2), help="first day (default 2026-03-02)")
    parser.add_argument("--keep", action="store_true", help="keep the previous demo's data instead of starting over")
    args = parser.parse_args(argv)
    settings = Settings.from_env()

    if not args.keep:
        for folder in (settings.warehouse, settings.landing):
            shutil.rmtree(folder, ignore_errors=True)
    started = time.time()
    _say(f"generating {args.shops} shops x {args.days} days into {settings.landing}")
    print(generate(GenerateOptions(settings.landing, args.shops, args.days, args.start), _say).summary(), file=sys.stderr)

    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    _say("preparing the embedded Airflow database (SQLite)")
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)

    for offset in range(args.days):
        run_date = args.start + timedelta(days=offset)
        _say(f"running csmetrics_daily for {run_date} through Airflow")
        dag_run = run_dag(run_date)
        if str(dag_run.state) not in ("success", "DagRunState.SUCCESS"):
            _say(f"csmetrics_daily for {run_date} ended {dag_run.state}; see the task logs above")
            return 1

    from csmetrics.quality.gate import data_docs_index
    from csmetrics.show import show_benchmarks, show_leaderboard, show_shop_matrix

    print(show_shop_matrix("shop0"))
    # Benchmarks and leaderboards of the last date whose conversation metrics are final.
    final_date = args.start + timedelta(days=args.days - 2)
    print()
    print(show_leaderboard("reply_3min_rate", final_date))
    category = _largest_category(settings)
    print()
    print(show_benchmarks(category, final_date, ("reply_3min_rate", "pickup_rate", "avg_response_seconds", "consult_sessions")))
    print(
        "\nA value is provisional (p) until the run for stat_date + w has computed it, then final (F): "
        "window 0 metrics are final at once, window 1 after one more day, window 3 and 15 later (docs/maturity.md)."
    )
    print(f"Delta tables: {settings.warehouse}/gold/shop_metrics_daily, {settings.warehouse}/gold/agent_metrics_daily")
    print(f"quarantine: {settings.warehouse}/quarantine/records   quality results: {settings.warehouse}/quality/validation_results")
    docs = data_docs_index(settings)
    print(f"Data Docs of failed checks (open in a browser): {docs}" if docs.exists() else "Every gate check passed: no Data Docs page.")
    from csmetrics.report import write_report
    from csmetrics.spark import get_spark

    spark = get_spark(settings)
    last, busiest = busiest_shop(spark, settings)
    report = write_report(spark, settings, busiest, last, os.path.join(settings.export_dir, "reports"))
    print(f"\nThe service report of {busiest}, the busiest shop of the largest peer group on {last} (open in a browser): {report}")
    _say(f"done in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
