"""One pipeline step as an application: what spark-submit (and SparkSubmitOperator) runs.

    spark-submit --master spark://host:7077 --packages io.delta:delta-spark_4.2_2.13:4.4.0 \\
        jobs/csmetrics/submit.py publish --date 2026-03-03 --run-id manual__2026-03-03

The same `run_step` runs in-process when no cluster is configured (csmetrics.orchestration).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from csmetrics.config import SettingsError

DAILY = ("date", "run_id")
# The steps, each with the arguments it cannot run without.
NEEDS = {
    "bronze": DAILY,
    "gold": DAILY,
    "ingest": DAILY,
    "validate_bronze": ("run_id",),
    "compute": DAILY,
    "validate_gold": DAILY,
    "publish": DAILY,
    "derive": DAILY,
    "run": DAILY,
    "backfill_prepare": ("start", "end"),
    "backfill_chunk": ("first", "last", "start", "end"),
    "backfill_derive": ("start", "end"),
    "maintain": (),
}
STEPS = tuple(NEEDS)


class StepParser(argparse.ArgumentParser):
    """Refuses bad arguments with a SettingsError: one line and exit 1 from `main`, a failed
    task with that message when Airflow calls `run_step` in-process (instead of SystemExit)."""

    def error(self, message: str):
        raise SettingsError(message)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _true_or_false(text: str) -> bool:
    """The value form of --restate: the DAGs pass `--restate {{ params.restate }}`, which renders True or False."""
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() == "true"


def build_parser() -> argparse.ArgumentParser:
    parser = StepParser(prog="csmetrics-step", description="Run one csmetrics pipeline step.")
    parser.add_argument(
        "step", choices=STEPS,
        help="the step to run: run does a whole day (csmetrics_daily's task); bronze (ingest, then the bronze gate) and "
        "gold (compute, gold gate, publish, derive) are its two halves; the others run one step each",
    )
    parser.add_argument("--date", type=_date, help="the run's logical date (daily steps)")
    parser.add_argument("--run-id", help="the run id recorded in the tables (daily steps)")
    parser.add_argument(
        "--restate", nargs="?", const=True, default=False, type=_true_or_false,
        help="read every landed record (also --restate true / --restate false)",
    )
    parser.add_argument("--start", type=_date, help="backfill: first date")
    parser.add_argument("--end", type=_date, help="backfill: last date")
    parser.add_argument("--first", type=_date, help="backfill chunk: first day")
    parser.add_argument("--last", type=_date, help="backfill chunk: last day")
    return parser


def parse_step(argv: list[str]) -> argparse.Namespace:
    """The step and its arguments; a step without one it needs is refused before anything runs."""
    parser = build_parser()
    args = parser.parse_args(argv)
    missing = [f"--{name.replace('_', '-')}" for name in NEEDS[args.step] if getattr(args, name) is None]
    if missing:
        parser.error(f"{args.step} needs {', '.join(missing)}")
    return args


def run_step(*argv: str):
    """Run the step named by command-line style arguments; return what the step returns."""
    args = parse_step(list(argv))
    from csmetrics import pipeline, preflight

    restate = args.restate
    if args.start and args.end:
        preflight.check_range(args.start, args.end)
    preflight.check_run_settings(args.run_id)
    steps = {
        "bronze": lambda: pipeline.bronze_phase(args.date, args.run_id, restate),
        "gold": lambda: pipeline.gold_phase(args.date, args.run_id, restate),
        "ingest": lambda: pipeline.ingest_step(args.date, args.run_id, restate=restate),
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
