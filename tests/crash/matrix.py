"""Every kill point of tests/crash/harness.py on one generated day: `bin/crash-matrix`.

For each point: a fresh warehouse, a run killed there, the checks of what it left, the re-run,
and the comparison with an uninterrupted run. Prints one row per point; exits 1 if any fails."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from csmetrics.config import Settings
from csmetrics.pipeline import run_daily
from csmetrics.spark import get_spark
from csmetrics_generate import GenerateOptions, generate
from tests.crash.harness import KILL_POINTS, gold_rows, inconsistencies, run_and_kill, uncommitted_files
from tests.integration.warehouses import Warehouse, same_rows

D = date(2026, 3, 2)
# The uninterrupted run is the date's scheduled run; each killed run is a manual re-run of it.
SCHEDULED_RUN_ID, RUN_ID = f"scheduled__{D}", f"manual__{D}"
quiet = lambda message: None  # noqa: E731


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=None, help="folder for the landing zone and warehouses (default: a new temporary folder)")
    parser.add_argument("--shops", type=int, default=3, help="shops in the generated day (default 3)")
    parser.add_argument("--points", nargs="*", default=[p.name for p in KILL_POINTS], help="kill points to run (default: all)")
    args = parser.parse_args()
    root = Path(args.work or tempfile.mkdtemp(prefix="csmetrics-crash-"))
    os.environ["CSMETRICS_SHUFFLE_PARTITIONS"] = "2"
    generate(GenerateOptions(str(root / "landing"), shops=args.shops, days=1, start=D, seed=21, invalid_share=0.005), quiet)
    spark = get_spark(Settings.from_env())
    with Warehouse(root / "uninterrupted", root / "landing") as settings:
        run_daily(D, SCHEDULED_RUN_ID, progress=quiet)
        expected = gold_rows(spark, settings)
    print(f"{'kill point':<16} {'killed':>7} {'inside a write':<15} {'after kill':<32} {'after re-run':<14} {'re-run = uninterrupted':<22}", flush=True)
    failed = 0
    for point in (p for p in KILL_POINTS if p.name in args.points):
        warehouse = Warehouse(root / point.name.replace(" ", "_"), root / "landing")
        # Each killed run finds the scheduled run of the date (another run id) committed.
        shutil.copytree(root / "uninterrupted" / "warehouse", warehouse.root / "warehouse")
        with warehouse as settings:
            layer = Path(settings.warehouse) / (point.inside or "gold")
            left_before = set(uncommitted_files(spark, layer))
            started = time.monotonic()
            killed = run_and_kill(point, D, RUN_ID, dict(os.environ))
            at = f"{time.monotonic() - started:5.0f}s" if killed else "  ended"
            orphans = len(set(uncommitted_files(spark, layer)) - left_before)
            inside = f"{orphans} file(s)" if point.inside else "-"
            left = inconsistencies(spark, settings, after_rerun=False)
            run_daily(D, RUN_ID, progress=quiet)
            after = inconsistencies(spark, settings, after_rerun=True)
            rerun = gold_rows(spark, settings)
            equal = all(same_rows(rerun[t], expected[t]) for t in expected)
        ok = killed and not left and not after and equal and (orphans > 0 or not point.inside)
        failed += not ok
        print(f"{point.name:<16} {at:>7} {inside:<15} {'consistent' if not left else '; '.join(left):<32} "
              f"{'consistent' if not after else '; '.join(after):<14} {'yes' if equal else 'NO':<22}", flush=True)
    print(f"{'all kill points passed' if not failed else f'{failed} kill point(s) failed'} (work folder {root})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
