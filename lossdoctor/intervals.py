"""Means of a curve over index intervals (an epoch's training loss, the steps between two
evaluations) that hold for any finite values a damaged log can carry.

A running sum's differences are the usual way and fail on both ends of the float range: a
sum of values near 1e308 overflows (inf - inf = NaN, with numpy's RuntimeWarning), and
after a 1e308 an ordinary 3 is lost in the running sum's rounding. Each interval is summed
on its own, in units of a power of two above the largest value (an exact scaling), so no
sum overflows and no interval's values are rounded against another's.
"""

from __future__ import annotations

import numpy as np


def means(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The mean of the finite values in values[s:e] for each interval; NaN where it holds none."""
    ok = np.isfinite(values)
    finite = np.where(ok, values, 0.0)
    e = int(np.frexp(np.max(np.abs(finite)))[1]) if finite.size else 0
    sums = _sums(np.ldexp(finite, -e), starts, ends)
    counts = _sums(ok.astype(float), starts, ends)
    return np.where(counts > 0, np.ldexp(sums / np.maximum(counts, 1.0), e), np.nan)


def _sums(a: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """sum(a[s:e]) for each interval (0 when empty). reduceat over the pairs (s0, e0, s1, e1,
    ...) sums a[s:e] at each even position when s < e; the odd positions are not used."""
    starts, ends = np.asarray(starts, dtype=np.intp), np.asarray(ends, dtype=np.intp)
    out = np.zeros(starts.shape)
    full = ends > starts
    if full.any():
        idx = np.empty(2 * int(full.sum()), dtype=np.intp)
        idx[0::2], idx[1::2] = starts[full], ends[full]
        out[full] = np.add.reduceat(np.append(a, 0.0), idx)[0::2]  # padded: an end can be len(a)
    return out
