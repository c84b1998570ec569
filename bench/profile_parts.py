"""The parts of one slice transaction (compute, gold gate, publish), timed and counted in Spark
jobs, pass after pass in one process: how much of a run's compute step is building its plan,
computing its rows, gating and publishing them, and what a warm JVM changes.

    .venv/bin/python bench/profile_parts.py --work /tmp/profile-run --date 2026-03-04 --passes 3

--work is a folder `bench/profile_run.py` left (its landing/ and warehouse/): each pass runs the
compute, gold gate and publish of --date again over that warehouse, under the run id of the
profiled run, so a pass after the first publishes nothing new. Figures are printed, never
asserted (bench/RESULTS.md, "Where compute's planning goes").
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from pathlib import Path

# (module, function, label): each call runs in a Spark job group of its own.
PARTS = (
    ("publish", "computed_tables", "plan built"),
    ("compute.Persisted", "materialize", "rows computed"),
    ("publish", "validate_gold", "gold gate"),
    ("publish", "publish", "publish"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="a folder bench/profile_run.py left (landing/ and warehouse/)")
    parser.add_argument("--date", type=date.fromisoformat, required=True, help="the run date to compute again (profile_run's profiled day)")
    parser.add_argument("--run-id", default=None, help="the run id to publish under (default: profiled__DATE, as profile_run)")
    parser.add_argument("--passes", type=int, default=3, help="passes in the one process (default 3; the first starts the JVM)")
    args = parser.parse_args()
    os.environ.update(CSMETRICS_LANDING=str(args.work / "landing"), CSMETRICS_WAREHOUSE=str(args.work / "warehouse"))
    os.environ.setdefault("CSMETRICS_SHUFFLE_PARTITIONS", "2")
    from csmetrics import compute, pipeline, publish
    from csmetrics.config import Settings
    from csmetrics.spark import get_spark

    spark = get_spark(Settings.from_env())
    context, tracker = spark.sparkContext, spark.sparkContext.statusTracker()
    totals: dict[str, list[float]] = {}

    def timed(owner, name: str, label: str) -> None:
        function = getattr(owner, name)

        def wrapper(*positional, **keywords):
            group = f"part-{label}-{time.monotonic_ns()}"
            context.setJobGroup(group, label)
            started = time.perf_counter()
            try:
                return function(*positional, **keywords)
            finally:
                seconds, jobs = totals.get(label, [0.0, 0])
                totals[label] = [seconds + time.perf_counter() - started, jobs + len(tracker.getJobIdsForGroup(group))]
                context.setJobGroup("between-parts", "between parts")

        setattr(owner, name, wrapper)

    owners = {"publish": publish, "compute.Persisted": compute.Persisted}
    for owner, name, label in PARTS:
        timed(owners[owner], name, label)
    run_id = args.run_id or f"profiled__{args.date}"
    print(f"{'pass':>4s} {'whole':>8s}  " + "  ".join(f"{label:>22s}" for _, _, label in PARTS))
    for number in range(1, args.passes + 1):
        totals.clear()
        started = time.perf_counter()
        pipeline.compute_gate_publish_step(args.date, run_id, progress=lambda message: None)
        whole = time.perf_counter() - started
        cells = "  ".join(f"{totals.get(label, [0.0, 0])[0]:9.1f} s, {totals.get(label, [0.0, 0])[1]:4d} jobs" for _, _, label in PARTS)
        print(f"{number:4d} {whole:6.1f} s  {cells}", flush=True)


if __name__ == "__main__":
    main()
