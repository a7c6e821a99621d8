"""CSV-like logs: Keras CSVLogger, Lightning metrics.csv, Ultralytics results.csv, any table.

One reader serves all four formats; the format name only labels the Run. The delimiter
and header line are found here (a title line above the header is skipped) because
pandas' delimiter sniffing needs the slow python engine; the C engine then reads every
cell as text, so an empty cell ("not logged on this row") stays distinct from 'nan'.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..frame import Run
from .columns import RunBuilder, choose_axis, is_counter, looks_like_metric, numeric_cells
from .text import read_text

DELIMITERS = (",", ";", "\t", "|")
WHITESPACE = r"\s+"  # pandas' C engine handles this one regex itself


@dataclass(frozen=True)
class TableShape:
    """Where the header is (lines before it), the delimiter, and the header names."""

    skip: int
    sep: str
    names: list[str]
    data_lines: list[str]


def split_fields(line: str, sep: str) -> list[str]:
    """Split one line by the delimiter, stripping the padding around each field."""
    parts = line.split() if sep == WHITESPACE else line.split(sep)
    return [p.strip().strip('"').strip() for p in parts]


def _delimiter(header: str, data: str | None) -> str | None:
    """The delimiter the header uses, preferring one the first data line agrees with."""
    counts = sorted(((header.count(d), d) for d in DELIMITERS), reverse=True)
    used = [d for n, d in counts if n > 0]
    for sep in used:
        if data is None or data.count(sep) == header.count(sep):
            return sep
    if used:
        return used[0]  # quoted fields or a trailing comma make counts differ
    width = len(header.split())
    if width >= 2 and (data is None or len(data.split()) == width):
        return WHITESPACE
    return None


def sniff_table(text: str) -> TableShape | None:
    """Find the header line and delimiter in the first lines of a text table."""
    lines = text.split("\n", 60)[:60]
    rows = [(i, line) for i, line in enumerate(lines) if line.strip()]
    if not rows:
        return None
    data = [line for _, line in rows[1:3]]
    start, sep = rows[0][0], _delimiter(rows[0][1], data[0] if data else None)
    if sep is None and len(rows) > 1:
        # A title line ('model_history_log') above a delimited header.
        second = _delimiter(rows[1][1], data[1] if len(data) > 1 else None)
        if second is not None and second != WHITESPACE:
            rows, start, sep = rows[1:], rows[1][0], second
    sep = sep or ","
    return TableShape(start, sep, split_fields(rows[0][1], sep), [line for _, line in rows[1:4]])


def read_csv(path: Path, fmt: str = "csv") -> Run:
    """Read any CSV-like training log into a Run labelled `fmt`."""
    builder = RunBuilder(path, fmt)
    text = read_text(path, builder.notes)
    shape = sniff_table(text)
    if shape is None:
        raise InputError(path, "empty file")
    frame = _load(path, text, shape)
    names, body = _header(frame, shape)
    if body.empty:
        raise InputError(path, "header only, no data rows")
    _add_columns(builder, names, body)
    if not builder.run.series:
        raise InputError(path, "no numeric columns")
    return builder.finish()


def _load(path: Path, text: str, shape: TableShape) -> pd.DataFrame:
    """Read every cell as text with pandas' C engine, starting at the header line."""
    body = text.split("\n", shape.skip)[-1] if shape.skip else text
    try:
        return pd.read_csv(
            io.StringIO(body), sep=shape.sep, header=None, dtype=str, na_filter=False,
            engine="c", skip_blank_lines=True, skipinitialspace=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        detail = str(exc).split("C error: ")[-1].strip().rstrip(".")
        raise InputError(path, f"malformed CSV: {detail}") from None


def _header(frame: pd.DataFrame, shape: TableShape) -> tuple[list[str], pd.DataFrame]:
    """Header names (stripped, made unique) and the data rows, minus repeated headers."""
    names: list[str] = []
    for cell in frame.iloc[0].astype(str):
        name = cell.strip().strip('"').strip()
        base, k = name, 2
        while name and name in names:
            name, k = f"{base}.{k - 1}", k + 1
        names.append(name)
    body = frame.iloc[1:]
    # Some appended logs repeat the header line mid-file.
    repeated = (body.astype(str).apply(lambda col: col.str.strip()) == names).all(axis=1)
    return names, body[~repeated.to_numpy()]


def _add_columns(builder: RunBuilder, names: list[str], body: pd.DataFrame) -> None:
    """Add one series per numeric column, over the axis the table provides."""
    axis_key, axis = choose_axis(n for n in names if n)
    steps = np.arange(len(body), dtype=np.float64)
    if axis_key is not None:
        steps = numeric_cells(body.iloc[:, names.index(axis_key)])[0]
    elif names[0] == "":
        # An unnamed pandas index column (header starts with ','): it numbers the rows.
        steps = numeric_cells(body.iloc[:, 0])[0]
    for j, name in enumerate(names):
        if not name or name == axis_key or is_counter(name):
            continue  # unnamed (index / trailing-comma) columns and counters are not metrics
        values, present, junk = numeric_cells(body.iloc[:, j])
        if junk > present.sum():
            if looks_like_metric(name):
                builder.notes.append(f"{name}: holds text, not numbers; column skipped")
            continue
        if junk:
            builder.notes.append(f"{name}: {junk} non-numeric cell(s) skipped")
        builder.add(name, steps[present], values[present], axis)
