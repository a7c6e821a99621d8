"""Logs made of records (dicts): JSON lines, JSON lists, HF Trainer's log_history.

Each key becomes its own series, built only from the records that carry it, so that
train and evaluation records logged at different steps never interleave. When records
of another kind count their step differently (MMEngine's validation lines use the epoch
as step while train lines use the iteration), the shared keys are split off as `val/...`
instead of being read as a restarted run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .columns import RunBuilder, choose_axis, is_counter, looks_like_metric, to_float


@dataclass
class _Points:
    """The logged points of one key, with the index of the record each came from."""

    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    records: list[int] = field(default_factory=list)
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


def add_records(builder: RunBuilder, records: Sequence[dict], axis_key: str | None = None) -> None:
    """Add one series per numeric key of flat records, in logged order."""
    if axis_key is None:
        axis_key, axis = choose_axis({k for rec in records for k in rec})
    else:
        axis = "step"
    points = _collect(builder, records, axis_key)
    for name, pts in points.items():
        if not pts.values:
            if pts.text and looks_like_metric(name):
                builder.notes.append(f"{name}: holds text, not numbers; skipped")
            continue
        if pts.text:
            builder.notes.append(f"{name}: {pts.text} non-numeric value(s) skipped")
        for part_name, steps, values in _split_streams(builder, name, pts, records):
            builder.add(part_name, steps, values, axis)


def _collect(builder: RunBuilder, records: Sequence[dict], axis_key: str | None) -> dict[str, _Points]:
    """Gather (step, value) points per key; a record without a step gets the last step seen."""
    points: dict[str, _Points] = {}
    last, carried = math.nan, 0
    for i, rec in enumerate(records):
        step = float(i) if axis_key is None else to_float(rec.get(axis_key))
        if step is None or math.isnan(step):
            step, carried = last, carried + 1
        last = step
        for key, value in rec.items():
            if key == axis_key or is_counter(key):
                continue
            pts = points.setdefault(key, _Points())
            number = to_float(value)
            if number is None:
                pts.text += isinstance(value, str)
                continue
            pts.steps.append(step)
            pts.values.append(number)
            pts.records.append(i)
    if carried and axis_key is not None:
        builder.notes.append(f"{carried} record(s) without '{axis_key}' placed at the preceding record's step")
    return points


def _split_streams(
    builder: RunBuilder, name: str, pts: _Points, records: Sequence[dict]
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(name, steps, values)]: the key's points, split in two when two record kinds clash."""
    steps, values = np.asarray(pts.steps), np.asarray(pts.values)
    if steps.size < 2 or not np.any(np.diff(steps) < 0):
        return [(name, steps, values)]
    # A record's kind is its set of metric keys (train lines vs validation lines).
    kinds = [frozenset(k for k in records[i] if not is_counter(k)) for i in pts.records]
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
    """True when the steps decrease somewhere."""
    return bool(steps.size > 1 and np.any(np.diff(steps) < 0))
