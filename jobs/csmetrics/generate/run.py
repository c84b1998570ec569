"""Generate a landing zone (SPEC §2 layout) for N shops over D days, in bounded memory."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from csmetrics.generate.commerce import commerce_day
from csmetrics.generate.conversations import conversation_day
from csmetrics.generate.invalid import inject_invalid
from csmetrics.generate.shops import make_population
from csmetrics.schemas.raw import RAW_TABLES

# Sessions per generated chunk: bounds memory at any scale (about 10 messages each).
CHUNK_SESSIONS = 150_000


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
                _write(out, table, dt, "snapshot", snapshot, report)
        for chunk_index, shops in enumerate(chunks):
            id_base = ((day_index * len(chunks)) + chunk_index) * 10_000_000
            conv = conversation_day(rng, pop, shops, day, id_base)
            tables = conv.tables | commerce_day(rng, conv, shops, pop.daily_sessions, day, id_base)
            for name, data in tables.items():
                for dt, landed in _by_arrival(data):
                    # Per landed file, so that every run sees the share asked for.
                    landed = inject_invalid(rng, RAW_TABLES[name], landed, options.invalid_share, report.invalid)
                    _write(out, name, dt, f"d{day_index}-c{chunk_index}", landed, report)
        progress(f"generated {day} ({day_index + 1}/{options.days} days, {sum(report.rows.values()):,d} rows so far)")
    return report


def _shop_chunks(daily_sessions: np.ndarray) -> list[np.ndarray]:
    """Consecutive shop ranges holding about CHUNK_SESSIONS sessions a day each."""
    boundaries = np.searchsorted(np.cumsum(daily_sessions), np.arange(CHUNK_SESSIONS, daily_sessions.sum(), CHUNK_SESSIONS))
    return [c for c in np.split(np.arange(len(daily_sessions)), boundaries) if len(c)]


def _by_arrival(data: pa.Table):
    """(arrival date, rows landing that day) for a generated batch."""
    arrival_date = pc.cast(data["_arrival"], pa.date32())
    data = data.drop_columns(["_arrival"])
    for dt in pc.unique(arrival_date).to_pylist():
        yield dt, data.filter(pc.equal(arrival_date, dt))


def _write(out: Path, table: str, dt: date, tag: str, data: pa.Table, report: GenerateReport) -> None:
    folder = out / table / f"dt={dt.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(f.name, f.type) for f in data.schema])
    pq.write_table(data.cast(schema), folder / f"part-{tag}.parquet")
    report.files += 1
    report.rows[table] += data.num_rows
