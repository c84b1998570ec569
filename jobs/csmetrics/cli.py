"""`csmetrics` command line: generate data, run a date, backfill a range, restate final rows, release held-back shop-days,
show gold tables, explain a change, write a shop report."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date

from csmetrics import preflight
from csmetrics.config import Settings, SettingsError, environment_help

ENVIRONMENT_HELP = "\n" + environment_help()
# The gold tables partitioned by stat_date (csmetrics.tables).
EXPORTABLE = ("leaderboard_daily", "peer_benchmarks_daily", "shop_metrics_daily", "agent_metrics_daily")


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

    gen = commands.add_parser(
        "generate",
        help="write a synthetic landing zone (SPEC §2 layout)",
        description="Write a synthetic landing zone that looks like a real platform's: Zipf-skewed shops in several "
        "timezones (DST zones of both hemispheres), agents who split replies, bursts of messages in one "
        "microsecond, long sessions, spam-only shop days, late and re-sent records. Files land over time: each "
        "file's modification time is when it landed (12-hour batches, some days late, some re-sent), which "
        "decides the runs that see it (docs/maturity.md).",
    )
    gen.add_argument("--out", default=None, help="landing root to write (default: CSMETRICS_LANDING)")
    gen.add_argument("--shops", type=int, default=50, help="number of shops (default 50)")
    gen.add_argument("--days", type=int, default=3, help="number of days (default 3)")
    gen.add_argument("--start", type=_date, default=date(2026, 3, 2), help="first local day, YYYY-MM-DD (default 2026-03-02)")
    gen.add_argument("--seed", type=int, default=7, help="random seed; same seed, same data (default 7)")
    gen.add_argument("--sessions-per-day", type=int, default=None, help="sessions a day over all shops (default 40 per shop)")
    gen.add_argument("--invalid-share", type=float, default=0.0, help="share of records made invalid, e.g. 0.005 (default 0)")

    run = commands.add_parser("run", help="run the daily pipeline for one logical date (ingest, compute, validate, publish)")
    run.add_argument("--date", type=_date, required=True, help="the run's logical date R, YYYY-MM-DD")
    run.add_argument(
        "--run-id", default=None, help="id recorded in the tables and Delta history (default cli__<date>, or cli_restate__<date> with --restate)"
    )
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

    release = commands.add_parser(
        "release",
        help="accept held-back shop-days of a date as they are, so that they become final (docs/maturity.md)",
        description="A shop-day the gold gate held back at the run that was to make it final stays provisional, and "
        "every later daily run tries it again until it passes. When its data will not be fixed, release it: its "
        "slices are recomputed from every landed record and published final even where row-level checks fail (the "
        "results are still recorded in quality/validation_results); its weeks and months can then become final. "
        "What is waiting: quality/unfinished, rows without settled_by.",
    )
    release.add_argument("--date", type=_date, required=True, help="stat_date of the held-back shop-days, YYYY-MM-DD")
    release.add_argument("--shop", default=None, help="only this shop_id (default: every held-back shop of the date)")
    release.add_argument("--run-id", default=None, help="id recorded in the tables and Delta history (default cli_release__<date>)")

    back = commands.add_parser(
        "backfill",
        help="run the daily jobs over a date range, in chunks of days per Spark job; resumable",
        description="Ingest everything landed up to END + 1, then compute, validate and publish every date "
        "of [START, END] in chunks of days (each gated and published together), then the weekly rollups, "
        "governance, peer benchmarks and leaderboards. The result equals running the days one by one. "
        "Chunks are sized by the data: as many days as their landed files fit in a quarter of "
        "CSMETRICS_DRIVER_MEMORY, up to 31. Finished chunks are recorded: after a failure, run the "
        "same command again and only the unfinished days run.",
    )
    back.add_argument("--start", type=_date, required=True, help="first logical date, YYYY-MM-DD")
    back.add_argument("--end", type=_date, required=True, help="last logical date, YYYY-MM-DD")
    back.add_argument("--restate", action="store_true", help="read every landed record, not each day's arrival cutoff")
    back.add_argument(
        "--chunk-days", type=int, default=None,
        help="days per chunk instead of chunks sized by the landed data (fewer days hold less in memory; a failure redoes less)",
    )

    export = commands.add_parser(
        "export",
        help="write a gold table as one CSV per stat_date for a dashboard, re-writing only dates changed since the last export",
        description="Write <CSMETRICS_EXPORT_DIR>/<table>/stat_date=YYYY-MM-DD.csv for each stat_date whose rows changed "
        "since the last export (every date the first time), found in the table's Change Data Feed. Reads with delta-rs: no Spark.",
    )
    export.add_argument("--table", default="leaderboard_daily", choices=EXPORTABLE, help="gold table to export (default leaderboard_daily)")

    commands.add_parser(
        "maintain",
        help="compact and VACUUM every table, remove old staging tables and Data Docs (weekly; CSMETRICS_RETAIN_DAYS)",
        description="OPTIMIZE (compaction) and VACUUM every Delta table, keeping CSMETRICS_RETAIN_DAYS of history for time travel; "
        "remove staging tables older than CSMETRICS_STAGING_KEEP_DAYS and GX results and Data Docs pages older than CSMETRICS_RETAIN_DAYS. "
        "Run it away from the daily runs' publish (the csmetrics_maintenance DAG runs it on Sundays at 03:00 UTC). "
        "After an upgrade it first rewrites, once, each gold table an older csmetrics laid out otherwise "
        "(docs/scaling.md, \"Gold's layout\").",
    )

    report = commands.add_parser(
        "report",
        help="write a shop's diagnosis report: one HTML page with charts, governance and failing sessions",
        description="Write <out>/<shop>-<date>.html: for each core metric the shop's last 30 days against its peers' "
        "average and excellent values (provisional days hollow), the change over the day, week and month before, "
        "this week's governance status; then the sessions that failed the 3-minute rule on the date and their scenes. "
        "The charts are embedded: the file opens offline and can be mailed.",
    )
    report.add_argument("--shop", required=True, help="shop_id")
    report.add_argument("--date", type=_date, required=True, help="stat_date, YYYY-MM-DD")
    report.add_argument("--out", default=None, help="folder to write to (default <CSMETRICS_EXPORT_DIR>/reports)")

    explain = commands.add_parser(
        "explain",
        help="explain why a shop's metric changed from one date to another",
        description="Split the change of METRIC for SHOP from --versus (default the day before) to --date: the part "
        "from its numerator and the part from its denominator; each level-1 scene's and each agent's contribution "
        "(its share change x its old rate + its rate change x its new share; they sum to the change); and the "
        "sessions of --date that moved it most. With --versus-version V, explain instead how the row of --date "
        "changed since Delta version V of gold/shop_metrics_daily (a restatement): the commits that rewrote it and "
        "the shop's records ingested in between. Definitions: docs/derived.md, \"Why did this number change\".",
    )
    explain.add_argument("--shop", required=True, help="shop_id")
    explain.add_argument("--metric", required=True, help="metric id, e.g. reply_3min_rate (docs/metrics.md)")
    explain.add_argument("--date", type=_date, required=True, help="the later stat_date, YYYY-MM-DD")
    against = explain.add_mutually_exclusive_group()
    against.add_argument("--versus", type=_date, default=None, help="the earlier stat_date to compare with (default --date minus one day)")
    against.add_argument("--versus-version", type=int, default=None, metavar="V",
                         help="compare --date's row with itself at Delta version V of gold/shop_metrics_daily instead")
    explain.add_argument("--json", action="store_true", help="print the explanation as JSON instead of text")

    show = commands.add_parser("show", help="print gold metric rows")
    show.add_argument("--date", type=_date, default=None, help="only this stat_date")
    show.add_argument("--shop", default=None, help="only this shop_id")
    show.add_argument("--limit", type=int, default=40, help="rows to print (default 40)")
    show.add_argument("--leaderboard", metavar="METRIC", default=None,
                      help="print the leaderboard of METRIC instead (latest date, or --date; largest category, or --category)")
    show.add_argument("--benchmarks", action="store_true", help="print the peer benchmarks of --category instead")
    show.add_argument("--category", default=None, help="category for --leaderboard / --benchmarks")
    for command in commands.choices.values():
        command.add_argument(
            "-v", "--verbose", action="store_true",
            help="also show Spark's, GX's and py4j's own warnings here (they always go to CSMETRICS_LOG_FILE)",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from csmetrics.errors import exit_code_of

    if args.verbose:
        os.environ["CSMETRICS_CONSOLE_LOG_LEVEL"] = "warn"
    return exit_code_of(lambda: _run(args))


def _run(args: argparse.Namespace) -> None:
    # Progress and results on stdout; a failure's one message on stderr (csmetrics.errors).
    progress = lambda message: print(message, flush=True)  # noqa: E731
    if args.command == "generate":
        from csmetrics_generate import GenerateOptions, generate

        out = args.out or Settings.from_env().landing
        report = generate(
            GenerateOptions(out, args.shops, args.days, args.start, args.seed, args.sessions_per_day, args.invalid_share),
            progress,
        )
        print(report.summary())
        print(f"landing zone: {out}")
    elif args.command == "run":
        # A restatement of a date is another run than its daily run: it must not take the daily
        # run's id, under which that run's cutoff and settlements are recorded.
        run_id = args.run_id or (f"cli_restate__{args.date}" if args.restate else f"cli__{args.date}")
        preflight.check_run_settings(run_id)
        from csmetrics.pipeline import run_daily

        run_daily(args.date, run_id, args.restate, progress)
    elif args.command == "restate":
        run_id = args.run_id or f"cli_restate__{args.start}_{args.end}"
        preflight.check_range(args.start, args.end)
        preflight.check_run_settings(run_id)
        from csmetrics.pipeline import restate_range

        restate_range(args.start, args.end, run_id, progress)
    elif args.command == "release":
        run_id = args.run_id or f"cli_release__{args.date}"
        preflight.check_run_settings(run_id)
        from csmetrics.pipeline import release

        release(args.date, args.shop, run_id, progress)
    elif args.command == "backfill":
        preflight.check_range(args.start, args.end)
        if args.chunk_days is not None and args.chunk_days < 1:
            raise SettingsError(f"--chunk-days {args.chunk_days}: a chunk holds at least 1 day")
        preflight.check_run_settings()
        from csmetrics.pipeline import backfill

        backfill(args.start, args.end, args.restate, args.chunk_days, progress)
    elif args.command == "export":
        from csmetrics.export import export_table

        export_table(Settings.from_env(), args.table, progress)
    elif args.command == "maintain":
        preflight.check_run_settings()
        from csmetrics.pipeline import maintain_step

        maintain_step(progress)
    elif args.command == "report":
        from csmetrics.report import write_report
        from csmetrics.spark import get_spark

        settings = Settings.from_env()
        out = args.out or os.path.join(settings.export_dir, "reports")
        print(f"report: {write_report(get_spark(settings), settings, args.shop, args.date, out)}")
    elif args.command == "explain":
        from csmetrics import explain
        from csmetrics.spark import get_spark

        settings = Settings.from_env()
        spark = get_spark(settings)
        if args.versus_version is not None:
            result = explain.explain_versions(spark, settings, args.shop, args.metric, args.date, args.versus_version)
        else:
            result = explain.explain(spark, settings, args.shop, args.metric, args.date, args.versus)
        print(result.to_json() if args.json else result.text())
    elif args.command == "show":
        from csmetrics import show

        if args.leaderboard:
            print(show.show_leaderboard(args.leaderboard, args.date, args.category, args.limit))
        elif args.benchmarks:
            if not args.category:
                raise SettingsError("csmetrics show --benchmarks needs --category: the category whose peer benchmarks to print")
            print(show.show_benchmarks(args.category, args.date))
        else:
            print(show.show_gold(args.date, args.shop, args.limit))


if __name__ == "__main__":
    sys.exit(main())
