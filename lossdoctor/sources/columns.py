"""What every parser shares: number parsing, the choice of x-axis, and building a Run.

Readers hand named columns of (step, value) points to a `RunBuilder`, which calls
`make_series` for each and folds the per-series restart notes into one readable note.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas is loaded by the readers of text tables, not at start-up
    import pandas as pd

from ..frame import Run, make_series

STEP_KEYS = ("step", "global_step", "iteration", "iter", "it")
EPOCH_KEYS = ("epoch", "epochs")
# Progress counters are the x-axis (or a second axis), never a metric of their own.
COUNTERS = frozenset(STEP_KEYS + EPOCH_KEYS + ("steps",))

# Spellings of non-finite numbers written by Python, numpy and C printf: logged values.
SPECIAL_NUMBERS = {
    "nan": math.nan, "-nan": math.nan, "+nan": math.nan,
    "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
    "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf,
}

# Spellings of "no value on this row": Keras' CSVLogger writes 'NA' for a key missing from
# an epoch's logs (e.g. no validation that epoch), R and pandas write NA / <NA>. A loss
# that really was NaN is written 'nan' by Python, so only these mean "not logged".
MISSING = frozenset({"", "na", "n/a", "<na>", "null", "none"})
# Every upper/lower-case spelling of MISSING, for pandas' exact-match `na_values`.
MISSING_SPELLINGS = sorted({"".join(c) for word in MISSING
                            for c in itertools.product(*({ch.lower(), ch.upper()} for ch in word))})

_METRIC_WORDS = re.compile(r"loss|acc|err|score|perplex|auc|f1|map|metric|reward|\blr\b")


def is_counter(name: str) -> bool:
    """True for progress counters (step, epoch, iteration ...), which are not metrics."""
    return name.strip().lower() in COUNTERS


def looks_like_metric(name: str) -> bool:
    """True when a column name suggests a metric, so dropping it deserves a note."""
    return bool(_METRIC_WORDS.search(name.lower()))


def choose_axis(names: Iterable[str]) -> tuple[str | None, str]:
    """Pick the x-axis key as spelled in the log, and the axis kind (step/epoch/row)."""
    by_lower: dict[str, str] = {}
    for name in names:
        by_lower.setdefault(name.strip().lower(), name)
    for kind, keys in (("step", STEP_KEYS), ("epoch", EPOCH_KEYS)):
        for key in keys:
            if key in by_lower:
                return by_lower[key], kind
    return None, "row"


def to_float(value: object) -> float | None:
    """A JSON/CSV value as a float: numbers, numeric strings, NaN/Inf spellings; else None."""
    if isinstance(value, bool) or value is None:
        return None  # True/False are flags, null is "not logged"
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # an int past float range is as infinite as JSON's 1e400
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in MISSING:
            return None
        special = SPECIAL_NUMBERS.get(text.lower())
        if special is not None:
            return special
        try:
            return float(text)
        except ValueError:
            return None
    return None


def long_line(text: str, limit: int) -> tuple[int, int] | None:
    """(line number, length) of the first line longer than `limit` characters, or None.

    Linear and copy-free: a line that long holds a whole block of `limit // 2` characters
    without a newline, so only one `find` per block is needed to rule every line out."""
    block = max(limit // 2, 1)
    for lo in range(0, len(text), block):
        if text.find("\n", lo, lo + block) >= 0:
            continue
        start = text.rfind("\n", 0, lo) + 1
        end = text.find("\n", lo)
        length = (len(text) if end < 0 else end) - start
        if length > limit:
            return text.count("\n", 0, start) + 1, length
    return None


def numeric_cells(cells: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Parse a column of strings: (values, mask of cells holding a value, count of text cells).

    An empty or 'NA' cell is "not logged on this row" (Lightning's sparse rows, Keras'
    missing keys); 'nan' is a logged NaN and 'inf'/'-Infinity' a logged infinity, so
    those are kept as values.
    """
    values, present, junk = _parse_cells(cells)
    return values, present, int(junk.sum())


def _parse_cells(cells: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, mask of cells holding a value, mask of text cells) of a series of strings."""
    import pandas as pd  # only text tables get here, and their readers hold pandas already

    text = cells.astype(str).str.strip()
    empty = (text == "").to_numpy()
    if not empty.all():
        empty = empty | text.str.lower().isin(MISSING).to_numpy()
    values = np.array(pd.to_numeric(text.where(~empty), errors="coerce"), dtype=np.float64)
    unparsed = np.isnan(values) & ~empty
    junk = np.zeros(values.shape, dtype=bool)
    if unparsed.any():
        special = [SPECIAL_NUMBERS.get(t.lower()) for t in text.to_numpy()[unparsed]]
        values[unparsed] = [math.nan if s is None else s for s in special]
        junk[unparsed] = [s is None for s in special]
    return values, ~empty & ~junk, junk


# Cells parsed per block of columns: one pandas pass over many short columns instead of one
# per column (~2 ms each: a 10,000-column header took 20 s), bounded so a long table is
# still converted a column or a few at a time (8 bytes of value per cell, 2 of masks).
BLOCK_CELLS = 1 << 20


def numeric_columns(frame: pd.DataFrame) -> Callable[[int], tuple[np.ndarray, np.ndarray, int]]:
    """`numeric_cells` of each column of a text frame, parsed a block of columns at a time
    (columns are asked for in order; the block in hand is kept)."""
    import pandas as pd

    rows, cols = frame.shape
    width = max(1, BLOCK_CELLS // max(rows, 1))
    held: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def cells(j: int) -> tuple[np.ndarray, np.ndarray, int]:
        first = j - j % width
        if first not in held:
            held.clear()
            block = frame.iloc[:, first:first + width].to_numpy(dtype=object)
            parsed = _parse_cells(pd.Series(block.ravel(order="F"), dtype=object))
            held[first] = tuple(a.reshape(block.shape[1], rows) for a in parsed)  # column-major
        values, present, junk = held[first]
        k = j - first
        return values[k], present[k], int(junk[k].sum())

    return cells


class RunBuilder:
    """Collects the series of one Run and folds per-series restart notes into one."""

    def __init__(self, path: object, fmt: str) -> None:
        self.run = Run(str(path), fmt)
        self._restarts: list[tuple[str, str]] = []

    @property
    def notes(self) -> list[str]:
        """The run's notes, for readers to append to."""
        return self.run.notes

    def add(self, name: str, steps: object, values: object, axis: str) -> None:
        """Build one series with `make_series` (restarts, ties) and add it if non-empty."""
        scratch: list[str] = []
        self.run.add(make_series(name, np.asarray(steps), np.asarray(values), axis, scratch))
        self._restarts.extend((name, note) for note in scratch)

    def finish(self) -> Run:
        """Return the Run, with one restart note standing for all series that restarted."""
        if len(self._restarts) <= 2:
            self.run.notes.extend(note for _, note in self._restarts)
        else:
            others = [name for name, _ in self._restarts[1:]]
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            self.run.notes.append(f"{self._restarts[0][1]}; {len(others)} other series restart too ({shown})")
        return self.run
