"""The fixed cost of a tiny daily run: one generated day of 3 shops, `run_daily` three times in
one process into fresh warehouses (the first run cold), under the Spark settings of
CSMETRICS_SPARK_CONF.

    CSMETRICS_SPARK_CONF="spark.sql.codegen.wholeStage=false" .venv/bin/python bench/fixed_cost.py /tmp/fixed-cost
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import date
from pathlib import Path

from csmetrics_generate import GenerateOptions, generate

DAY = date(2026, 3, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="working folder: the generated day is kept there and reused")
    parser.add_argument("--runs", type=int, default=3, help="runs in the one process (default 3)")
    args = parser.parse_args()
    if not (args.root / "landing").exists():
        generate(GenerateOptions(str(args.root / "landing"), shops=3, days=1, start=DAY, seed=21), lambda message: None)
    os.environ.update(CSMETRICS_LANDING=str(args.root / "landing"), CSMETRICS_SHUFFLE_PARTITIONS="2")
    from csmetrics.pipeline import run_daily

    seconds = []
    for i in range(args.runs):
        warehouse = args.root / f"warehouse{i}"
        shutil.rmtree(warehouse, ignore_errors=True)
        os.environ["CSMETRICS_WAREHOUSE"] = str(warehouse)
        start = time.monotonic()
        run_daily(DAY, f"scheduled__{DAY}", progress=lambda message: None)
        seconds.append(round(time.monotonic() - start, 1))
    print(f"CSMETRICS_SPARK_CONF={os.environ.get('CSMETRICS_SPARK_CONF', '')!r}: {seconds} s (first cold)")


if __name__ == "__main__":
    main()
