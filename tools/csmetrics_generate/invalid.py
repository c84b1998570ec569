"""Inject invalid records of every kind SPEC §2 names, driven by the table contracts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from csmetrics.schemas.raw import RawTable
from csmetrics_generate.arrow import US_PER_S

HOUR = 3600 * US_PER_S


def invalid_kinds(table: RawTable) -> list[str]:
    kinds = ["null_key", "null_required"]
    kinds += [f"bad_enum:{c}" for c in table.enums]
    kinds += [f"contradiction:{later}" for later, _ in table.ordered_pairs]
    kinds += [f"out_of_range:{c}" for c in table.ranges]
    return kinds


def inject_invalid(rng: np.random.Generator, table: RawTable, data: pa.Table, share: float, counts: Counter) -> pa.Table:
    """Corrupt round(share x rows) rows, one invalid kind each; count what was injected.

    An exact count, not a coin per row: a table of 23 rows at 0.5 % gets none, so a
    generated share never exceeds the one asked for (the failure limit is per table)."""
    hits_wanted = round(share * data.num_rows)
    if hits_wanted == 0:
        return data
    kinds = invalid_kinds(table)
    chosen = np.full(data.num_rows, -1)
    rows = rng.choice(data.num_rows, size=hits_wanted, replace=False)
    chosen[rows] = rng.integers(0, len(kinds), hits_wanted)
    other_required = [c for c in table.required_columns if c not in (table.primary_key, "shop_id")][0]
    for index, kind in enumerate(kinds):
        mask = pa.array(chosen == index)
        hits = int(np.sum(chosen == index))
        if not hits:
            continue
        counts[f"{table.name}:{kind}"] += hits
        name, _, column = kind.partition(":")
        if name == "null_key":
            data = _replace(data, table.primary_key, mask, pa.scalar(None, data.schema.field(table.primary_key).type))
        elif name == "null_required":
            data = _replace(data, other_required, mask, pa.scalar(None, data.schema.field(other_required).type))
        elif name == "bad_enum":
            data = _replace(data, column, mask, pa.scalar("unknown_value"))
        elif name == "contradiction":
            earlier = dict(table.ordered_pairs)[column]
            before = pc.subtract(data[earlier].cast(pa.int64()), HOUR).cast(data.schema.field(column).type)
            data = _replace(data, column, mask, before)
        elif name == "out_of_range":
            low, high = table.ranges[column]
            bad = (high + 2) if high is not None else (low - 5)
            data = _replace(data, column, mask, pa.array([bad], pa.int32()).cast(data.schema.field(column).type)[0])
    return data


def _replace(data: pa.Table, column: str, mask: pa.Array, value) -> pa.Table:
    index = data.schema.get_field_index(column)
    return data.set_column(index, column, pc.if_else(mask, value, data[column]))
