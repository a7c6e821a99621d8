"""Logs made of records (dicts): JSON lines, JSON lists, HF Trainer's log_history.

Each key becomes its own series, built only from the records that carry it, so that
train and evaluation records logged at different steps never interleave. When records
of another kind count their step differently (MMEngine's validation lines use the epoch
as step while train lines use the iteration), the shared keys are split off as `val/...`
instead of being read as a restarted run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import is_not

import numpy as np

from ..numfmt import plural
from .columns import RunBuilder, choose_axis, is_counter, looks_like_metric, to_float

_PLAIN_NUMBERS = frozenset({float, int, type(None)})  # bool is neither: a flag, not a number
_FLOATS = frozenset({float, int})


@dataclass
class _Points:
    """The logged points of one key, with the index of the record each came from."""

    steps: np.ndarray
    values: np.ndarray
    records: np.ndarray
    text: int = 0


def flatten(record: dict, prefix: str = "") -> dict[str, object]:
    """Flatten nested dicts with '/' ({"eval": {"loss": 1}} -> {"eval/loss": 1})."""
    flat: dict[str, object] = {}
    for key, value in record.items():
        name = f"{prefix}{str(key).strip()}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "/"))
        else:
            flat[name] = value
    return flat


def flatten_all(records: list[dict]) -> list[dict]:
    """`flatten` every record; when no key needs stripping and no value is a dict (the usual
    case), that is the records as they are, found without a Python call per record."""
    keys = dict.fromkeys(chain.from_iterable(records))
    if all(type(k) is str and k == k.strip() for k in keys) and \
            not any(map(isinstance, chain.from_iterable(map(dict.values, records)), repeat(dict))):
        return records
    return [flatten(r) for r in records]


class Columns:
    """Records gathered a batch at a time, as columns: per key, the index of every record
    where the key holds a value (not None), and the numbers among them. A big JSON-lines
    log is parsed in batches whose dicts are dropped once gathered."""

    def __init__(self) -> None:
        self.n = 0
        # per key, per batch: (indices holding a number or None for all, numbers,
        # indices holding a value or None for all, text count, first record, records)
        self.keys: dict[str, list[tuple]] = {}

    def add(self, records: Sequence[dict], flat: bool = False) -> None:
        """Gather one batch of records (in logged order); `flat`: known to hold no nested
        dict, so only keys needing a strip are flattened (otherwise the caller flattened)."""
        keys = dict.fromkeys(chain.from_iterable(records))
        if flat and not all(type(k) is str and k == k.strip() for k in keys):
            records = flatten_all(records)
            keys = dict.fromkeys(chain.from_iterable(records))
        n = len(records)
        for key in keys:
            values, present, text, exists = _numbers(list(map(dict.get, records, repeat(key))))
            dense = values.size == n  # the usual column: a number in every record
            self.keys.setdefault(key, []).append(
                (None if dense else np.flatnonzero(present) + self.n, values,
                 None if dense or exists is present else np.flatnonzero(exists) + self.n, text, self.n, n))
        self.n += n

    def column(self, key: str) -> tuple[np.ndarray, np.ndarray, int]:
        """(record indices, numbers, count of text values) of one key."""
        parts = self.keys.get(key, [])
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0), 0
        values = parts[0][1] if len(parts) == 1 else np.concatenate([p[1] for p in parts])
        if values.size == self.n:  # a number in every record (the usual column)
            return np.arange(self.n), values, sum(p[3] for p in parts)
        index = [np.arange(p[4], p[4] + p[5]) if p[0] is None else p[0] for p in parts]
        return np.concatenate(index), values, sum(p[3] for p in parts)

    def kinds(self) -> np.ndarray:
        """A record's kind as an id: which metric keys (not counters) it holds a value for."""
        keys = [k for k in self.keys if not is_counter(k)]
        bits = np.zeros((self.n, -(-len(keys) // 64) or 1), np.uint64)
        for i, key in enumerate(keys):
            bit = np.uint64(1 << (i % 64))
            for index, _, exists, _, first, count in self.keys[key]:
                rows = slice(first, first + count) if index is None else index if exists is None else exists
                bits[rows, i // 64] |= bit
        return np.unique(bits, axis=0, return_inverse=True)[1].reshape(-1)


def add_records(builder: RunBuilder, records: Sequence[dict], axis_key: str | None = None) -> None:
    """Add one series per numeric key of flat records, in logged order."""
    columns = Columns()
    columns.add(records)
    add_columns(builder, columns, axis_key)


def add_columns(builder: RunBuilder, columns: Columns, axis_key: str | None = None) -> None:
    """Add one series per numeric key of gathered records, in logged order."""
    if axis_key is None:
        axis_key, axis = choose_axis(columns.keys)
    else:
        axis = "step"
    points = _collect(builder, columns, axis_key)
    kinds: list[np.ndarray] = []  # computed once, when a key's steps go back
    for name, pts in points.items():
        if not pts.values.size:
            if pts.text and looks_like_metric(name):
                builder.notes.append(f"{name}: holds text, not numbers; skipped")
            continue
        if pts.text:
            builder.notes.append(f"{name}: {plural(pts.text, 'non-numeric value')} skipped")
        for part_name, steps, values in _split_streams(builder, name, pts, columns, kinds):
            builder.add(part_name, steps, values, axis)


def _collect(builder: RunBuilder, columns: Columns, axis_key: str | None) -> dict[str, _Points]:
    """Gather (step, value) points per key; a record without a step gets the last step seen.

    Works a key at a time over all records, so a log of plain numbers is converted by
    numpy rather than value by value.
    """
    n = columns.n
    if axis_key is None:
        steps = np.arange(n, dtype=np.float64)
    else:
        index, values, _ = columns.column(axis_key)
        steps = np.full(n, np.nan)
        steps[index] = values
        missing = np.isnan(steps)
        if missing.any():
            # forward fill (leading gaps stay NaN): each point takes the last step logged
            last = np.maximum.accumulate(np.where(missing, 0, np.arange(n)))
            steps = steps[last]
            builder.notes.append(f"{plural(int(missing.sum()), 'record')} without '{axis_key}' "
                                 "placed at the preceding record's step")
        infinite = int(np.isinf(steps).sum())
        if infinite:  # make_series drops them: a point needs a place on the axis
            builder.notes.append(f"{plural(infinite, 'record')} whose '{axis_key}' is infinite dropped")
    points: dict[str, _Points] = {}
    for key in columns.keys:
        if key == axis_key or is_counter(key):
            continue
        index, values, text = columns.column(key)
        points[key] = _Points(steps if index.size == n else steps[index], values, index, text)
    return points


def _numbers(cells: list) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(numbers, mask of the cells holding one, count of text cells, mask of the cells
    holding anything but None): `to_float` per cell, done by numpy when every cell is a
    plain int, float or None (absent / null)."""
    types = set(map(type, cells))
    if types <= _FLOATS:  # the usual column: a number in every record
        exists = np.ones(len(cells), bool)
        try:
            return np.array(cells, dtype=np.float64), exists, 0, exists
        except OverflowError:
            pass
    exists = np.fromiter(map(is_not, cells, repeat(None)), dtype=bool, count=len(cells))
    if _PLAIN_NUMBERS.issuperset(types):
        try:
            return np.array(cells, dtype=object)[exists].astype(np.float64), exists, 0, exists
        except OverflowError:
            pass  # an integer beyond float range: to_float decides, value by value
    numbers = [to_float(v) for v in cells]
    present = np.fromiter(map(is_not, numbers, repeat(None)), dtype=bool, count=len(cells))
    values = np.array([x for x in numbers if x is not None], dtype=np.float64)
    text = sum(1 for v, x in zip(cells, numbers) if x is None and isinstance(v, str))
    return values, present, text, exists


def _split_streams(
    builder: RunBuilder, name: str, pts: _Points, columns: Columns, kinds: list[np.ndarray]
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(name, steps, values)]: the key's points, split in two when two record kinds clash."""
    steps, values = pts.steps, pts.values
    if not _goes_back(steps):
        return [(name, steps, values)]
    # A record's kind is its set of metric keys (train lines vs validation lines).
    if not kinds:
        kinds.append(columns.kinds())
    of_points = kinds[0][pts.records]
    main = Counter(of_points.tolist()).most_common(1)[0][0]
    side = of_points != main
    if not side.any() or _goes_back(steps[side]) or _goes_back(steps[~side]):
        return [(name, steps, values)]  # a real restart: make_series handles it
    builder.notes.append(
        f"{name}: {plural(int(side.sum()), 'point')} from records with other keys count steps "
        f"differently; kept as val/{name}"
    )
    return [(name, steps[~side], values[~side]), (f"val/{name}", steps[side], values[side])]


def _goes_back(steps: np.ndarray) -> bool:
    """True when the steps decrease somewhere (a step logged as NaN/Inf is no position)."""
    placed = steps[np.isfinite(steps)]
    return bool(placed.size > 1 and np.any(np.diff(placed) < 0))
