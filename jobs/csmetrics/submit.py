"""One pipeline step as an application: what spark-submit (and SparkSubmitOperator) runs.

    spark-submit --master spark://host:7077 --packages io.delta:delta-spark_4.2_2.13:4.4.0 \\
        jobs/csmetrics/submit.py publish --date 2026-03-03 --run-id manual__2026-03-03

The same `run_step` runs in-process when no cluster is configured (csmetrics.orchestration).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

STEPS = (
    "ingest", "validate_bronze", "compute", "validate_gold", "publish", "derive", "run",
    "backfill_prepare", "backfill_chunk", "backfill_derive", "maintain",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="csmetrics-step", description="Run one csmetrics pipeline step.")
    parser.add_argument("step", choices=STEPS, help="the step to run")
    parser.add_argument("--date", type=date.fromisoformat, help="the run's logical date (daily steps)")
    parser.add_argument("--run-id", help="the run id recorded in the tables (daily steps)")
    parser.add_argument("--restate", default="false", help="true to read every landed record")
    parser.add_argument("--start", type=date.fromisoformat, help="backfill: first date")
    parser.add_argument("--end", type=date.fromisoformat, help="backfill: last date")
    parser.add_argument("--first", type=date.fromisoformat, help="backfill chunk: first day")
    parser.add_argument("--last", type=date.fromisoformat, help="backfill chunk: last day")
    return parser


def run_step(*argv: str):
    """Run the step named by command-line style arguments; return what the step returns."""
    from csmetrics import pipeline, preflight

    args = build_parser().parse_args(list(argv))
    restate = str(args.restate).lower() == "true"
    if args.start and args.end:
        preflight.check_range(args.start, args.end)
    preflight.check_run_settings(args.run_id)
    steps = {
        "ingest": lambda: pipeline.ingest_step(args.date, args.run_id),
        "validate_bronze": lambda: pipeline.validate_bronze_step(args.run_id),
        "compute": lambda: pipeline.compute_step(args.date, args.run_id, restate),
        "validate_gold": lambda: pipeline.validate_step(args.date, args.run_id, restate),
        "publish": lambda: pipeline.publish_step(args.date, args.run_id, restate),
        "derive": lambda: pipeline.derive_step(args.date, args.run_id, restate),
        "run": lambda: pipeline.run_daily(args.date, args.run_id, restate),
        "backfill_prepare": lambda: pipeline.backfill_prepare_step(args.start, args.end, restate),
        "backfill_chunk": lambda: pipeline.backfill_chunk_step(args.first, args.last, args.start, args.end, restate),
        "backfill_derive": lambda: pipeline.backfill_derive_step(args.start, args.end, restate),
        "maintain": lambda: pipeline.maintain_step(),
    }
    return steps[args.step]()


def main(argv: list[str] | None = None) -> int:
    from csmetrics.errors import exit_code_of

    return exit_code_of(lambda: run_step(*(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    sys.exit(main())
