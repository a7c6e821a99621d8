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
import pandas as pd

from .columns import RunBuilder, choose_axis, is_counter, looks_like_metric, to_float

_PLAIN_NUMBERS = frozenset({float, int, type(None)})  # bool is neither: a flag, not a number


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


def add_records(builder: RunBuilder, records: Sequence[dict], axis_key: str | None = None) -> None:
    """Add one series per numeric key of flat records, in logged order."""
    if axis_key is None:
        axis_key, axis = choose_axis(set(chain.from_iterable(records)))
    else:
        axis = "step"
    points = _collect(builder, records, axis_key)
    for name, pts in points.items():
        if not pts.values.size:
            if pts.text and looks_like_metric(name):
                builder.notes.append(f"{name}: holds text, not numbers; skipped")
            continue
        if pts.text:
            builder.notes.append(f"{name}: {pts.text} non-numeric value(s) skipped")
        for part_name, steps, values in _split_streams(builder, name, pts, records):
            builder.add(part_name, steps, values, axis)


def _collect(builder: RunBuilder, records: Sequence[dict], axis_key: str | None) -> dict[str, _Points]:
    """Gather (step, value) points per key; a record without a step gets the last step seen.

    Works a key at a time over all records, so a log of plain numbers is converted by
    numpy rather than value by value.
    """
    n = len(records)
    if axis_key is None:
        steps = np.arange(n, dtype=np.float64)
    else:
        values, present, _ = _numbers([r.get(axis_key) for r in records])
        steps = np.full(n, np.nan)
        steps[present] = values
        missing = np.isnan(steps)
        if missing.any():
            steps = pd.Series(steps).ffill().to_numpy()
            builder.notes.append(f"{int(missing.sum())} record(s) without '{axis_key}' "
                                 "placed at the preceding record's step")
    points: dict[str, _Points] = {}
    for key in dict.fromkeys(chain.from_iterable(records)):
        if key == axis_key or is_counter(key):
            continue
        values, present, text = _numbers(list(map(dict.get, records, repeat(key))))
        index = np.flatnonzero(present)
        points[key] = _Points(steps[index], values, index, text)
    return points


def _numbers(cells: list) -> tuple[np.ndarray, np.ndarray, int]:
    """(numbers, mask of the cells holding one, count of text cells): `to_float` per cell,
    done by numpy when every cell is a plain int, float or None (absent / null)."""
    if _PLAIN_NUMBERS.issuperset(map(type, cells)):
        present = np.fromiter(map(is_not, cells, repeat(None)), dtype=bool, count=len(cells))
        try:
            return np.array(cells, dtype=object)[present].astype(np.float64), present, 0
        except OverflowError:
            pass  # an integer beyond float range: to_float decides, value by value
    numbers = [to_float(v) for v in cells]
    present = np.fromiter(map(is_not, numbers, repeat(None)), dtype=bool, count=len(cells))
    values = np.array([x for x in numbers if x is not None], dtype=np.float64)
    text = sum(1 for v, x in zip(cells, numbers) if x is None and isinstance(v, str))
    return values, present, text


def _split_streams(
    builder: RunBuilder, name: str, pts: _Points, records: Sequence[dict]
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(name, steps, values)]: the key's points, split in two when two record kinds clash."""
    steps, values = pts.steps, pts.values
    if not _goes_back(steps):
        return [(name, steps, values)]
    # A record's kind is its set of metric keys (train lines vs validation lines).
    kinds = [frozenset(k for k in records[i] if not is_counter(k)) for i in pts.records.tolist()]
    main = Counter(kinds).most_common(1)[0][0]
    side = np.array([kind != main for kind in kinds])
    if not side.any() or _goes_back(steps[side]) or _goes_back(steps[~side]):
        return [(name, steps, values)]  # a real restart: make_series handles it
    builder.notes.append(
        f"{name}: {int(side.sum())} point(s) from records with other keys count steps "
        f"differently; kept as val/{name}"
    )
    return [(name, steps[~side], values[~side]), (f"val/{name}", steps[side], values[side])]


def _goes_back(steps: np.ndarray) -> bool:
    """True when the steps decrease somewhere (a step logged as NaN/Inf is no position)."""
    placed = steps[np.isfinite(steps)]
    return bool(placed.size > 1 and np.any(np.diff(placed) < 0))
