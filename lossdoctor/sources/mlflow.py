"""MLflow file store: `<run_id>/metrics/<name>` files of `timestamp_ms value step` lines.

The metric name is the file's path under `metrics/` (names may hold spaces; nested names
such as `train/loss` are sub-folders). MLflow itself orders a metric's history by
(step, timestamp) and shows a re-logged identical point once, so duplicate lines are
dropped and the lines ordered that way before `make_series`: a duplicated first line at
the end of the file is then not a restart.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import InputError
from ..frame import Run
from ..numfmt import plural
from .columns import RunBuilder, to_float
from .text import read_text

# MLflow writes int64 timestamps and steps (19 digits); Python's int() refuses over 4300.
MAX_DIGITS = 40


def is_run_folder(folder: Path) -> bool:
    """True for an MLflow run folder (meta.yaml next to metrics/)."""
    return (folder / "meta.yaml").is_file() and (folder / "metrics").is_dir()


def read_mlflow(path: Path) -> Run:
    """Read an MLflow run folder (all its metrics) or one metric file."""
    if path.is_dir():
        return _read_run_folder(path)
    builder = RunBuilder(path, "mlflow")
    _add_metric(builder, path, _metric_name(path))
    return builder.finish()


def _read_run_folder(folder: Path) -> Run:
    """Every file below `metrics/` is one metric."""
    builder = RunBuilder(folder, "mlflow")
    root = folder / "metrics"
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        _add_metric(builder, file, file.relative_to(root).as_posix())
    if not builder.run.series:
        raise InputError(folder, "MLflow run has no metric values")
    return builder.finish()


def _metric_name(file: Path) -> str:
    """The metric name: the path below the nearest `metrics/` folder, else the file name."""
    for parent in file.parents:
        if parent.name == "metrics":
            return file.relative_to(parent).as_posix()
    return file.name


def _add_metric(builder: RunBuilder, file: Path, name: str) -> None:
    """Parse one metric file, dedupe and order it as MLflow does, add it as a series."""
    rows = _parse(file, builder.notes)
    unique = list(dict.fromkeys(rows))
    duplicates = len(rows) - len(unique)
    axis = "step" if all(step is not None for _, _, step in unique) else "row"
    if axis == "row":  # MLflow < 1.0 wrote no step: keep the file's order
        points = [(float(i), value) for i, (_, value, _) in enumerate(unique)]
    else:
        ordered = sorted(unique, key=lambda row: (row[2], row[0]))
        points = [(float(step), value) for _, value, step in ordered]
    if duplicates:
        builder.notes.append(f"{name}: dropped {plural(duplicates, 'duplicate line')}, as MLflow does")
    builder.add(name, [s for s, _ in points], [v for _, v in points], axis)


def _parse(file: Path, notes: list[str]) -> list[tuple[int, float, int | None]]:
    """(timestamp, value, step) per line; value text is kept so NaN lines dedupe too."""
    rows = []
    for number, line in enumerate(read_text(file, notes).split("\n"), start=1):
        fields = line.split()
        if not fields:
            continue
        value = to_float(fields[1]) if len(fields) in (2, 3) else None
        if value is None or not _is_int(fields[0], signed=False) or (len(fields) == 3 and not _is_int(fields[2])):
            raise InputError(file, f"not an MLflow metric line at line {number} (want 'timestamp value step')")
        if max(len(fields[0]), len(fields[-1])) > MAX_DIGITS:  # Python refuses to read such an int
            raise InputError(file, f"line {number}: a timestamp or step of more than {MAX_DIGITS} digits")
        step = int(fields[2]) if len(fields) == 3 else None
        rows.append((int(fields[0]), _key(value), step))
    if not rows:
        raise InputError(file, "empty file (only blank lines)")
    return rows


def _key(value: float) -> float:
    """NaN != NaN, so map every NaN to one object to let duplicates of NaN lines match."""
    return _NAN if math.isnan(value) else value


_NAN = math.nan


def _is_int(text: str, signed: bool = True) -> bool:
    """True for an integer of ASCII digits, optionally signed (str.isdigit alone also takes
    '¹', which int() refuses)."""
    digits = text[1:] if signed and text[:1] in ("+", "-") else text  # one sign: int() takes no '--1'
    return digits.isascii() and digits.isdigit()
