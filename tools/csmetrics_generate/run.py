"""Generate a landing zone (SPEC §2 layout) for N shops over D days, in bounded memory.

Files land over time, as upstream batches do: each record arrives at its own time, and
a batch file of the records that arrived in a 12-hour window lands at the window's end
(its modification time). A file for `dt` landing at 23:59:59 thus lands after the run for
the day before has read `dt`, and is the next run's. Some batches land days late, and
some files are re-sent whole.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from csmetrics.schemas.raw import RAW_TABLES
from csmetrics_generate.commerce import commerce_day
from csmetrics_generate.conversations import conversation_day
from csmetrics_generate.invalid import inject_invalid
from csmetrics_generate.shops import make_population

# Sessions per generated chunk: bounds memory at any scale (about 10 messages each).
CHUNK_SESSIONS = 150_000
# Upstream uploads a batch file every 12 hours, at 11:59:59 and 23:59:59 UTC.
BATCH_SECONDS = 12 * 3600
# Share of batch files held up upstream and landing 2-6 days late, and of files re-sent.
LATE_FILE_SHARE = 0.02
RESENT_FILE_SHARE = 0.02
# Snapshots land early in their arrival day.
SNAPSHOT_LANDS_AT = time(0, 30)


@dataclass(frozen=True)
class GenerateOptions:
    out: str
    shops: int = 50
    days: int = 3
    start: date = date(2026, 3, 2)
    seed: int = 7
    sessions_per_day: int | None = None
    invalid_share: float = 0.0

    @property
    def daily_sessions(self) -> int:
        return self.sessions_per_day or self.shops * 40


@dataclass
class GenerateReport:
    files: int = 0
    rows: Counter = None
    invalid: Counter = None

    def summary(self) -> str:
        lines = [f"wrote {self.files} files"]
        lines += [f"  {table:12s} {count:>12,d} rows" for table, count in sorted(self.rows.items())]
        if self.invalid:
            lines.append(f"  injected {sum(self.invalid.values()):,d} invalid records")
        return "\n".join(lines)


def generate(options: GenerateOptions, progress=None) -> GenerateReport:
    progress = progress or (lambda message: print(message, file=sys.stderr))
    rng = np.random.default_rng(options.seed)
    out = Path(options.out)
    report = GenerateReport(rows=Counter(), invalid=Counter())
    pop = make_population(rng, options.shops, options.daily_sessions, options.start)

    chunks = _shop_chunks(pop.daily_sessions)
    for day_index in range(options.days):
        day = options.start + timedelta(days=day_index)
        # Snapshots land every day, for the day they describe and the one before the first.
        for table in ("shops", "agents"):
            snapshot = pop.shops if table == "shops" else pop.agents
            dts = [day - timedelta(days=1), day] if day_index == 0 else [day]
            for dt in dts:
                _write(out, table, dt, "snapshot", snapshot, report, datetime.combine(dt, SNAPSHOT_LANDS_AT, UTC))
        for chunk_index, shops in enumerate(chunks):
            id_base = ((day_index * len(chunks)) + chunk_index) * 10_000_000
            conv = conversation_day(rng, pop, shops, day, id_base)
            tables = conv.tables | commerce_day(rng, conv, shops, pop.daily_sessions, day, id_base)
            for name, data in tables.items():
                # Every data set of two days or more has a late batch and a re-sent file
                # of each table, however small: the first of the first chunk's batches.
                first_chunk = chunk_index == 0
                for batch, (landed_at, landed) in enumerate(_batches(rng, data, hold_first=first_chunk and day_index == 1)):
                    # Per landed file, so that every run sees the share asked for.
                    landed = inject_invalid(rng, RAW_TABLES[name], landed, options.invalid_share, report.invalid)
                    tag = f"d{day_index}-c{chunk_index}-b{batch}"
                    _write(out, name, landed_at.date(), tag, landed, report, landed_at)
                    if rng.random() < RESENT_FILE_SHARE or (first_chunk and day_index == 0 and batch == 0):
                        resent_at = landed_at + timedelta(days=int(rng.integers(1, 3)))
                        _write(out, name, resent_at.date(), f"{tag}-resent", landed, report, resent_at)
        progress(f"generated {day} ({day_index + 1}/{options.days} days, {sum(report.rows.values()):,d} rows so far)")
    return report


def _shop_chunks(daily_sessions: np.ndarray) -> list[np.ndarray]:
    """Consecutive shop ranges holding about CHUNK_SESSIONS sessions a day each."""
    boundaries = np.searchsorted(np.cumsum(daily_sessions), np.arange(CHUNK_SESSIONS, daily_sessions.sum(), CHUNK_SESSIONS))
    return [c for c in np.split(np.arange(len(daily_sessions)), boundaries) if len(c)]


def _batches(rng: np.random.Generator, data: pa.Table, hold_first: bool = False):
    """(landing time, rows) of each batch file: the records that arrived in one 12-hour
    window land together at its end; a few batches (and the first, with `hold_first`) are
    held up upstream and land days later."""
    arrival_s = pc.divide(data["_arrival"].cast(pa.int64()), 1_000_000).to_numpy()
    window = arrival_s // BATCH_SECONDS
    data = data.drop_columns(["_arrival"])
    for index, value in enumerate(np.unique(window)):
        landed_s = int((value + 1) * BATCH_SECONDS - 1)
        if rng.random() < LATE_FILE_SHARE or (hold_first and index == 0):
            landed_s += int(rng.integers(2, 7)) * 86_400
        yield datetime.fromtimestamp(landed_s, UTC), data.filter(pa.array(window == value))


def _write(
    out: Path, table: str, dt: date, tag: str, data: pa.Table, report: GenerateReport, landed_at: datetime
) -> None:
    """One landing file in arrival partition `dt`, landed (modification time) at `landed_at`."""
    folder = out / table / f"dt={dt.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(f.name, f.type) for f in data.schema])
    path = folder / f"part-{tag}.parquet"
    pq.write_table(data.cast(schema), path)
    os.utime(path, (landed_at.timestamp(), landed_at.timestamp()))
    report.files += 1
    report.rows[table] += data.num_rows
