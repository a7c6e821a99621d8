"""Tiny text pictures of a curve, for terminals. Downsampling here is for display only."""

from __future__ import annotations

import numpy as np

from ..frame import Series

BARS = "▁▂▃▄▅▆▇█"
NONFINITE = "×"


XRange = tuple[float, float]


def x_range(*series: Series) -> XRange:
    """One step range for curves drawn above each other, so that columns line up."""
    return (min(float(s.steps[0]) for s in series), max(float(s.steps[-1]) for s in series))


def bins_of(series: Series, width: int, xr: XRange | None = None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin edges over the step range, mean finite value per bin, any-non-finite per bin)."""
    steps, values = series.steps, series.values
    lo, hi = xr or (float(steps[0]), float(steps[-1]))
    edges = np.linspace(lo, hi if hi > lo else lo + 1, width + 1)
    idx = np.clip(np.searchsorted(edges, steps, side="right") - 1, 0, width - 1)
    ok = np.isfinite(values)
    sums = np.bincount(idx[ok], weights=values[ok], minlength=width)
    counts = np.bincount(idx[ok], minlength=width)
    bad = np.bincount(idx[~ok], minlength=width) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return edges, _carry_forward(means), bad


def _carry_forward(means: np.ndarray) -> np.ndarray:
    """Empty bins (steps between sparse log points) show the last value before them; bins
    before the curve's first point (another curve's x-range) stay empty."""
    idx = np.where(np.isfinite(means), np.arange(means.size), 0)
    np.maximum.accumulate(idx, out=idx)
    return means[idx]


def sparkline(series: Series, width: int = 48, log: bool = False, xr: XRange | None = None) -> str:
    """One character per bin: bar height for the bin's mean, × where a NaN/Inf was logged.

    Linear bars of a positive curve start at 0, so a loss that barely moves looks flat.
    """
    _, means, bad = bins_of(series, width, xr)
    shown = np.log10(np.where(means > 0, means, np.nan)) if log else means
    finite = np.isfinite(shown)
    chars = []
    lo = np.nanmin(shown) if finite.any() else 0.0
    if not log and lo > 0:
        lo = 0.0
    span = (np.nanmax(shown) - lo) if finite.any() else 0.0
    for value, is_bad, ok in zip(shown, bad, finite):
        if is_bad:
            chars.append(NONFINITE)
        elif not ok:
            chars.append(" ")
        else:
            level = 0 if span == 0 else int((value - lo) / span * (len(BARS) - 1) + 0.5)
            chars.append(BARS[level])
    return "".join(chars)


def marker_line(series: Series, step: float, width: int = 48, xr: XRange | None = None) -> str:
    """A line with `^` under the bin holding `step`."""
    edges, _, _ = bins_of(series, width, xr)
    col = int(np.clip(np.searchsorted(edges, step, side="right") - 1, 0, width - 1))
    return " " * col + "^"


def wants_log(series: Series) -> bool:
    """Use a log scale when a positive curve spans more than two decades."""
    v = series.values[np.isfinite(series.values)]
    # In logs: max / min overflows for a 1e-300 beside a 1e300.
    return bool(v.size and v.min() > 0 and np.log10(v.max()) - np.log10(v.min()) > 2)
