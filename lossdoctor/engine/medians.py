"""Exact medians, fast on the short arrays most logs give (20-100 points).

`np.median` and pandas' rolling median spend 15-80 us per call on bookkeeping, which
dominated `audit` on thousands of small runs. These functions sort small windows
directly and fall back to numpy / pandas for long arrays (where those win), and for
the inputs where the two could differ: a zero median (whether 0.0 or -0.0 lands in the
middle is the library's choice), NaN/Inf in a rolling window (pandas skips NaNs).
Every answer is the library's to the bit: the middle value, or (a + b) / 2 of the two
middle ones. tests/test_fast_paths.py compares them on random input.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# Rolling medians over at most this many window cells (points x window) sort the windows
# here: 4-6x faster than pandas on short curves; pandas' skiplist wins on long ones.
SMALL_WINDOW_CELLS = 8192
SMALL_ARRAY = 1024  # np.median's partition beats a full sort beyond this


def median(values: np.ndarray) -> float:
    """`np.median` of a 1-D float array, as a float."""
    n = values.size
    if n == 0 or n > SMALL_ARRAY:
        return float(np.median(values))
    s = np.sort(values)
    if np.isnan(s[-1]):  # NaN sorts last; any NaN makes the median NaN
        return float("nan")
    m = n // 2
    mid = s[m] if n % 2 else (s[m - 1] + s[m]) / 2
    if mid == 0 and np.signbit(s[s == 0]).any():
        return float(np.median(values))  # which zero is "the middle" is np.partition's choice
    return float(mid)


def centred(values: np.ndarray, window: int) -> np.ndarray:
    """`pd.Series(values).rolling(window, center=True, min_periods=1).median()` (odd window)."""
    n = values.size
    if not _small(values, window):
        import pandas as pd  # long curves only: a small log is diagnosed without loading pandas

        return pd.Series(values).rolling(window, center=True, min_periods=1).median().to_numpy()
    h = window // 2
    out = np.empty(n)
    if n >= window:
        out[h : n - h] = _sorted_windows(values, window)[:, h]
    edges = range(n) if n < window else [*range(h), *range(n - h, n)]
    points = values.tolist()
    for i in edges:  # windows cut short by the ends, as min_periods=1 has them
        out[i] = _middle(sorted(points[max(0, i - h) : i + h + 1]))
    return out


def trailing(values: np.ndarray, window: int) -> np.ndarray:
    """Median of the `window` points before each point, NaN until there are that many:
    `pd.Series(values).shift(1).rolling(window, min_periods=window).median()`."""
    n = values.size
    if window < 1 or not _small(values, window):
        import pandas as pd

        return pd.Series(values).shift(1).rolling(window, min_periods=window).median().to_numpy()
    out = np.full(n, np.nan)
    if n > window:
        s = _sorted_windows(values[:-1], window)
        m = window // 2
        out[window:] = s[:, m] if window % 2 else (s[:, m - 1] + s[:, m]) / 2
    return out


def _small(values: np.ndarray, window: int) -> bool:
    """Sort the windows here? Short curves of finite values with no -0.0 only (which zero is
    "the middle" is the library's choice only when both signs are there; a curve of exact
    +0.0s -- second differences of repeated values -- sorts the same either way)."""
    return values.size * window <= SMALL_WINDOW_CELLS and bool(
        np.all(np.isfinite(values)) and not np.any((values == 0) & np.signbit(values)))


@lru_cache(maxsize=64)
def _window_index(n: int, window: int) -> np.ndarray:
    """Row i holds the indices i .. i + window - 1: every full window of n points."""
    return np.arange(n - window + 1)[:, None] + np.arange(window)


def _sorted_windows(values: np.ndarray, window: int) -> np.ndarray:
    """Every full window of `window` consecutive points, one per row, each row sorted."""
    rows = values[_window_index(values.size, window)]  # a copy, so sorting in place is free
    rows.sort(axis=1)
    return rows


def _middle(window: list[float]) -> float:
    k = len(window)
    return window[k // 2] if k % 2 else (window[k // 2 - 1] + window[k // 2]) / 2
