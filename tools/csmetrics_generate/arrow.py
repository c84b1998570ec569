"""Small helpers to build pyarrow columns from numpy arrays."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UTC_TS = pa.timestamp("us", tz="UTC")
US_PER_S = 1_000_000


def ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    """`prefix` followed by each number, e.g. ids("s", [1, 2]) -> ["s1", "s2"]."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers, pa.int64()), pa.string()), "")


def timestamps(micros: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(micros.astype(np.int64), pa.int64(), mask=null_mask).cast(UTC_TS)


def take(values: list[str], index: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    """Dictionary-decode `index` into strings from `values`."""
    out = pc.take(pa.array(values, pa.string()), pa.array(index.astype(np.int32)))
    if null_mask is not None:
        out = pc.if_else(pa.array(null_mask), pa.scalar(None, pa.string()), out)
    return out


def group_offsets(group_sizes: np.ndarray) -> np.ndarray:
    """Index of each element within its group, for groups laid out one after another."""
    starts = np.repeat(np.cumsum(group_sizes) - group_sizes, group_sizes)
    return np.arange(int(group_sizes.sum())) - starts


def cumsum_within(values: np.ndarray, group_sizes: np.ndarray) -> np.ndarray:
    """Exclusive cumulative sum of `values` restarting at each group."""
    total = np.cumsum(values) - values
    starts = np.cumsum(group_sizes) - group_sizes
    return total - np.repeat(total[starts] if len(total) else total, group_sizes)
