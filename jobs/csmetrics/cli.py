"""`csmetrics` command line: generate data, run a date, restate final rows, show gold tables."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from csmetrics.config import Settings

ENVIRONMENT_HELP = """
configuration (environment variables):
  CSMETRICS_WAREHOUSE        root of the Delta tables (default var/warehouse)
  CSMETRICS_LANDING          landing zone root (default var/landing)
  CSMETRICS_SPARK_MASTER     Spark master (default local[*]; e.g. spark://host:7077)
  CSMETRICS_SPARK_CONF       extra Spark settings, "key=value;key=value"
  CSMETRICS_SHUFFLE_PARTITIONS  spark.sql.shuffle.partitions (default 8)
  CSMETRICS_DRIVER_MEMORY    spark.driver.memory (default 4g)
  CSMETRICS_BUSINESS_START / CSMETRICS_BUSINESS_END  business hours (default 08:00:00 / 23:00:00)
  CSMETRICS_MAX_INVALID_SHARE  share of invalid records that fails a run (default 0.01)
"""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csmetrics",
        description="Daily customer-service metrics for every shop: landing -> bronze -> gold Delta tables.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="write a synthetic landing zone (SPEC §2 layout)")
    gen.add_argument("--out", default=None, help="landing root to write (default: CSMETRICS_LANDING)")
    gen.add_argument("--shops", type=int, default=50, help="number of shops (default 50)")
    gen.add_argument("--days", type=int, default=3, help="number of days (default 3)")
    gen.add_argument("--start", type=_date, default=date(2026, 3, 2), help="first local day, YYYY-MM-DD (default 2026-03-02)")
    gen.add_argument("--seed", type=int, default=7, help="random seed; same seed, same data (default 7)")
    gen.add_argument("--sessions-per-day", type=int, default=None, help="sessions a day over all shops (default 40 per shop)")
    gen.add_argument("--invalid-share", type=float, default=0.0, help="share of records made invalid, e.g. 0.005 (default 0)")

    run = commands.add_parser("run", help="run the daily pipeline for one logical date (ingest, compute, validate, publish)")
    run.add_argument("--date", type=_date, required=True, help="the run's logical date R, YYYY-MM-DD")
    run.add_argument("--run-id", default=None, help="id recorded in the tables and Delta history (default cli__<date>)")
    run.add_argument("--restate", action="store_true", help="recompute with all landed data, rewriting final rows")

    restate = commands.add_parser(
        "restate",
        help="recompute the final rows of a date range from all landed data (e.g. after late records)",
        description="Recompute every (stat_date, metric) slice of [start, end] that is already final, "
        "reading every record that has landed. Provisional rows are left to the daily runs. "
        "Earlier values stay readable with Delta time travel (see docs/maturity.md).",
    )
    restate.add_argument("--start", type=_date, required=True, help="first stat_date to restate, YYYY-MM-DD")
    restate.add_argument("--end", type=_date, required=True, help="last stat_date to restate, YYYY-MM-DD")
    restate.add_argument("--run-id", default=None, help="id recorded in the tables and Delta history (default cli_restate__<start>_<end>)")

    show = commands.add_parser("show", help="print gold metric rows")
    show.add_argument("--date", type=_date, default=None, help="only this stat_date")
    show.add_argument("--shop", default=None, help="only this shop_id")
    show.add_argument("--limit", type=int, default=40, help="rows to print (default 40)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if args.command == "generate":
            from csmetrics.generate import GenerateOptions, generate

            out = args.out or Settings.from_env().landing
            report = generate(
                GenerateOptions(out, args.shops, args.days, args.start, args.seed, args.sessions_per_day, args.invalid_share),
                progress,
            )
            print(report.summary())
            print(f"landing zone: {out}")
        elif args.command == "run":
            from csmetrics.pipeline import run_daily

            run_daily(args.date, args.run_id or f"cli__{args.date}", args.restate, progress)
        elif args.command == "restate":
            from csmetrics.pipeline import restate_range

            if args.end < args.start:
                raise SystemExit("csmetrics restate: --end must not be before --start")
            restate_range(args.start, args.end, args.run_id or f"cli_restate__{args.start}_{args.end}", progress)
        elif args.command == "show":
            from csmetrics.show import show_gold

            print(show_gold(args.date, args.shop, args.limit))
    except Exception as error:  # noqa: BLE001 - known failures print one clear message
        from csmetrics.errors import describe

        message = describe(error)
        if message is None:
            raise
        print(f"csmetrics: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
