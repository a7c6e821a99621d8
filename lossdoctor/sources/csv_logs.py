"""CSV-like logs: Keras CSVLogger, Lightning metrics.csv, Ultralytics results.csv, any table.

One reader serves all four formats; the format name only labels the Run. The delimiter
and header line are found here (a title line above the header is skipped) because
pandas' delimiter sniffing needs the slow python engine. pandas' C engine then parses
the numbers, with only the "not logged" spellings as missing, so a column it returns as
numbers holds no 'nan' text and its NaNs are empty/NA cells. A column that is not all
numbers (a logged 'nan', text) is read again as text and parsed cell by cell, so an empty
cell ("not logged on this row") stays distinct from 'nan'.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from ..frame import Run
from ..numfmt import plural
from .columns import (MISSING, MISSING_SPELLINGS, RunBuilder, choose_axis, is_counter, long_line,
                      looks_like_metric, numeric_cells, numeric_columns, to_float)
from .text import read_text

if TYPE_CHECKING:  # pandas is imported where a table is parsed: sniffing and other formats go without it
    import pandas as pd

DELIMITERS = (",", ";", "\t", "|")
WHITESPACE = r"\s+"  # pandas' C engine handles this one regex itself
SMALL_TABLE = 100_000  # cells
# A training log's row is a few KB even with thousands of columns; a longer line is not one.
MAX_LINE_CHARS = 16 * 2**20
# One column's (values, mask of logged cells, count of text cells), by column index.
Cells = Callable[[int], tuple[np.ndarray, np.ndarray, int]]


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
    too_long = long_line(text, MAX_LINE_CHARS)
    if too_long is not None:  # parsed, a line costs ~7x its size (a 300 MB line took 2.2 GB)
        raise InputError(path, f"line {too_long[0]:,} is {too_long[1]:,} characters long, over the "
                         f"{MAX_LINE_CHARS:,}-character limit of a CSV line")
    shape = sniff_table(text)
    if shape is None:
        raise InputError(path, "empty file")
    body = text.split("\n", shape.skip)[-1] if shape.skip else text
    fast = _fast_columns(body, shape)
    if fast is None:
        names, rows = _header(_load(path, body, shape))
        if rows.empty:
            raise InputError(path, "header only, no data rows")
        fast = names, len(rows), numeric_columns(rows)
    _add_columns(builder, *fast)
    if not builder.run.series:
        raise InputError(path, "no numeric columns")
    return builder.finish()


def _text_frame(body: str | bytes, sep: str, **options: object) -> pd.DataFrame:
    """Cells as text with pandas' C engine; `body` (str, or UTF-8 bytes) starts at the header line."""
    import pandas as pd

    return pd.read_csv(_buffer(body), sep=sep, header=None, dtype=str, na_filter=False,
                       engine="c", skip_blank_lines=True, skipinitialspace=True, **options)


def _buffer(body: str | bytes) -> io.TextIOBase | io.BufferedIOBase:
    """A file object over the text (UTF-8 bytes are read without a copy)."""
    return io.BytesIO(body) if isinstance(body, bytes) else io.StringIO(body)


def _fast_columns(body: str, shape: TableShape) -> tuple[list[str], int, Cells] | None:
    """(names, rows, cells) from one numeric C-engine read; None when the text path must decide.

    A repeated header line (appended logs) would turn every named column into text, so
    when at least one named column parses as numbers there is none to drop; names that
    read as numbers or as "not logged" would break that argument and go the text path.
    """
    import pandas as pd

    try:
        first = body.split("\n", 1)[0]  # the header line, unless a quoted name holds a newline
        # pandas only for quoted headers: for a plain one, a whole read_csv call per file
        # costs more than the rest of a small log's parsing (measured in `audit`).
        names = (_names(_text_frame(body, shape.sep, nrows=1)) if '"' in first
                 else _unique(split_fields(first.rstrip("\r"), shape.sep)))
        data = body.encode("utf-8")  # a StringIO of a big log costs 4 bytes per character
        # Most logs have no "not logged" spelling but empty cells: a read with only "" as
        # missing parses them alike and saves pandas' ~0.1 ms of preparing 45 spellings.
        # Any other spelling leaves its column as text; only those columns are read again
        # with every spelling (a column of numbers and empty cells reads the same either way).
        frame = _numeric_frame(data, shape.sep, [""])
        retry = [j for j, dtype in enumerate(frame.dtypes) if dtype.kind not in "iuf"]
        if retry:
            again = _numeric_frame(data, shape.sep, MISSING_SPELLINGS, usecols=retry)
            for j in retry:
                frame[j] = again[j]
        numeric = [dtype.kind in "iuf" for dtype in frame.dtypes]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    if frame.shape[1] != len(names) or not frame.shape[0]:
        return None  # a short first row or a ragged table: the text path decides or explains
    if not any(numeric[j] for j, n in enumerate(names) if n) or \
            any(to_float(n) is not None or n.lower() in MISSING for n in names if n):
        return None
    text_cols = [j for j, ok in enumerate(numeric) if not ok]
    text = _text_frame(data, shape.sep, skiprows=1, usecols=text_cols) if text_cols else None
    # Small all-numeric tables: one conversion instead of ~20 us of pandas indexing per column
    # (a big log's columns are converted one at a time, so it never holds two copies).
    table = frame.to_numpy(dtype=np.float64) if not text_cols and frame.size <= SMALL_TABLE else None

    def cells(j: int) -> tuple[np.ndarray, np.ndarray, int]:
        if not numeric[j]:
            return numeric_cells(text[j])
        values = frame.iloc[:, j].to_numpy(dtype=np.float64) if table is None else table[:, j]
        return values, ~np.isnan(values), 0  # NaN here is an empty/NA cell: 'nan' text is not numeric

    return names, frame.shape[0], cells


def _numeric_frame(data: bytes, sep: str, missing: list[str], **options: object) -> pd.DataFrame:
    """The data rows (header line skipped) read by pandas' C engine: numbers where a column
    is all numbers, with the `missing` spellings (exact match) as NaN."""
    import pandas as pd

    with warnings.catch_warnings():  # a column numeric in one chunk, text in another: text path
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        return pd.read_csv(_buffer(data), sep=sep, header=None, skiprows=1, engine="c",
                           na_values=missing, keep_default_na=False,
                           skip_blank_lines=True, skipinitialspace=True, **options)


def _load(path: Path, body: str, shape: TableShape) -> pd.DataFrame:
    """Read every cell as text with pandas' C engine, starting at the header line."""
    import pandas as pd

    width = _data_width(body, shape)
    try:
        return _text_frame(body, shape.sep, **({} if width is None else {"usecols": range(width)}))
    except (pd.errors.ParserError, ValueError) as exc:
        detail = str(exc).split("C error: ")[-1].strip().rstrip(".")
        raise InputError(path, f"malformed CSV: {detail}") from None


def _data_width(body: str, shape: TableShape) -> int | None:
    """How many fields the widest data line has, when that is fewer than the header names:
    the names past it have no cell in any row. pandas makes a column of every name (a
    10,000-name header over 15-field rows took 4 s, 0.1 ms a column in each of several
    passes), so only the columns with cells are read. None when nothing can be cut, or when
    quotes could hide delimiters inside fields."""
    if '"' in body:
        return None
    lines = body.split("\n")[1:]
    if shape.sep == WHITESPACE:
        width = max((len(line.split()) for line in lines), default=0)
    else:
        width = max((line.count(shape.sep) + 1 for line in lines if line.strip()), default=0)
    return width if 0 < width < len(shape.names) else None


def _names(frame: pd.DataFrame) -> list[str]:
    """Header names from the first row of a text frame: stripped, made unique."""
    return _unique([cell.strip().strip('"').strip() for cell in frame.iloc[0].astype(str)])


def _unique(cells: list[str]) -> list[str]:
    """Header names made unique the way pandas does it: a repeated `loss` becomes `loss.1`.
    Linear: the names taken are a set, and each name remembers the next suffix to try (a
    64 KB header of one repeated name took 21 s when both were searched from the start)."""
    names: list[str] = []
    taken: set[str] = set()
    next_suffix: dict[str, int] = {}
    for name in cells:
        if name and name in taken:
            base, k = name, next_suffix.get(name, 1)
            while f"{base}.{k}" in taken:
                k += 1
            name, next_suffix[base] = f"{base}.{k}", k + 1
        names.append(name)
        taken.add(name)
    return names


def _header(frame: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """Header names (stripped, made unique) and the data rows, minus repeated headers."""
    names = _names(frame)
    body = frame.iloc[1:]
    # Some appended logs repeat the header line mid-file. Only rows whose first cell is the
    # first name can be one: the whole row is compared for those alone (a per-column pass
    # over a 10,000-column table cost seconds).
    first = body.iloc[:, 0].astype(str).str.strip()
    candidates = np.flatnonzero((first == names[0]).to_numpy())
    repeated = np.zeros(len(body), dtype=bool)
    for i in candidates:
        repeated[i] = [str(c).strip() for c in body.iloc[i]] == names
    return names, body[~repeated]


def _add_columns(builder: RunBuilder, names: list[str], rows: int, cells: Cells) -> None:
    """Add one series per numeric column, over the axis the table provides."""
    for name, steps, values, axis in table_points(names, rows, cells, builder.notes):
        builder.add(name, steps, values, axis)


def parse_rows(path: Path, body: str, shape: TableShape) -> tuple[list[str], int, Cells]:
    """(names, rows, cells) of a table body that starts at its header line (`watch` parses the
    new lines of a growing table this way, after the header it remembered)."""
    fast = _fast_columns(body, shape)
    if fast is None:
        names, rows = _header(_load(path, body, shape))
        fast = names, len(rows), numeric_columns(rows)
    return fast


def table_points(names: list[str], rows: int, cells: Cells,
                 notes: list[str]) -> Iterator[tuple[str, np.ndarray, np.ndarray, str]]:
    """(name, steps, values, axis) per numeric column, over the axis the table provides."""
    axis_key, axis = choose_axis(n for n in names if n)
    steps = np.arange(rows, dtype=np.float64)
    if axis_key is not None:
        steps, logged, junk = cells(names.index(axis_key))
        unplaced = int((logged & ~np.isfinite(steps)).sum()) + junk
        if unplaced:  # make_series drops them: a point needs a place on the axis
            notes.append(f"{axis_key}: {plural(unplaced, 'row')} whose {axis_key} is NaN, Inf or text dropped")
    elif names[0] == "":
        # An unnamed pandas index column (header starts with ','): it numbers the rows.
        steps = cells(0)[0]
    for j, name in enumerate(names):
        if not name or name == axis_key or is_counter(name):
            continue  # unnamed (index / trailing-comma) columns and counters are not metrics
        values, present, junk = cells(j)
        if junk > present.sum():
            if looks_like_metric(name):
                notes.append(f"{name}: holds text, not numbers; column skipped")
            continue
        if junk:
            notes.append(f"{name}: {plural(junk, 'non-numeric cell')} skipped")
        yield name, steps[present], values[present], axis
