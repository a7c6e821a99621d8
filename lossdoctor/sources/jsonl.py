"""JSON logs: one object per line (Detectron2, MMEngine, MAE log.txt ...) or one JSON document.

Python's json accepts the bare NaN / Infinity tokens these tools write. A garbage line in
a JSON-lines log is skipped with a note; a log that is mostly garbage is an InputError.
Lines are parsed a batch at a time: as one JSON array when no value can span two lines
(`_parse_batch` says when), else one by one; the numbers are converted a key at a time
by `records`, and each batch's dicts dropped once gathered into columns.
"""

from __future__ import annotations

import json
import sys
from itertools import repeat
from pathlib import Path

from ..errors import InputError
from ..frame import Run
from ..numfmt import plural
from .columns import RunBuilder
from .records import Columns, add_columns, add_records, flatten_all
from .text import read_text

# A metrics record is a few KB; a longer line is not one (a dumped tensor, a config blob,
# a log cut and glued together) and is skipped unparsed like a garbage line.
MAX_LINE_CHARS = 16 * 2**20
BATCH_CHARS = 24 << 20  # text parsed (and its dicts held) at a time
_INT_DIGITS = sys.get_int_max_str_digits()  # Python's int-from-text limit (4300)


def load_json(path: Path, notes: list[str] | None = None) -> object:
    """Parse a whole JSON document; a syntax error names the line and column."""
    return parse_json(path, read_text(path, notes))


def parse_json(path: Path, text: str) -> object:
    """Parse the text of a whole JSON document read from `path` (named in errors)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        cut = " (file cut off?)" if exc.pos >= len(text.rstrip()) else ""
        raise InputError(path, f"invalid JSON at line {exc.lineno} col {exc.colno}{cut}") from None
    except RecursionError:
        raise InputError(path, "JSON nested too deeply") from None
    except ValueError:  # json turns digits into an int, which Python refuses past its digit limit
        raise InputError(path, f"invalid JSON: an integer of more than {_INT_DIGITS:,} digits") from None


def read_jsonl(path: Path) -> Run:
    """Read a JSON-lines log: one object per line, blank lines and garbage lines skipped."""
    builder = RunBuilder(path, "jsonl")
    columns, bad, total, too_long = Columns(), [], 0, 0
    text = read_text(path, builder.notes)
    pos = done = 0
    while pos < len(text):  # a batch of whole lines at a time: a big log is never split whole
        end = text.find("\n", pos + BATCH_CHARS)
        end = len(text) if end < 0 else end
        batch = text[pos:end].split("\n")
        if end == len(text) and len(batch) > 1 and not batch[-1]:
            batch.pop()  # the newline ending the last line
        pos = end + 1
        records, whole = _parse_batch(batch)
        if whole:  # every line an object: no blank or garbage line to look for
            total += len(records)
            columns.add(records, flat=True)
        else:
            lines, long_ = _sort_out(batch, records, done, bad, columns)
            total, too_long = total + lines, too_long + long_
        done += len(batch)
    if not total:
        raise InputError(path, "empty file (only blank lines)")
    if len(bad) * 2 > total or not columns.n:
        raise InputError(path, f"not JSON lines: {len(bad)} of {total} lines are not JSON objects "
                         f"(first: line {bad[0]}){_limit(too_long)}")
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        builder.notes.append(f"skipped {plural(len(bad), 'line')} holding no JSON object: line {shown}{_limit(too_long)}")
    add_columns(builder, columns)
    return builder.finish()


_BLANK = object()  # a blank line: neither a record nor garbage


def _sort_out(batch: list[str], records: list, done: int, bad: list[int], columns: Columns) -> tuple[int, int]:
    """Gather a batch parsed line by line: blank lines left out, garbage line numbers
    (counting from `done` lines before the batch) added to `bad`. Returns (non-blank lines,
    lines over the length limit)."""
    kept, lines, too_long = [], 0, 0
    for number, (line, record) in enumerate(zip(batch, records), start=done + 1):
        if record is _BLANK:
            continue
        lines += 1
        if record is None:
            bad.append(number)
            too_long += len(line) > MAX_LINE_CHARS
        else:
            kept.append(record)
    columns.add(flatten_all(kept))
    return lines, too_long


def _parse_batch(lines: list[str]) -> tuple[list, bool]:
    """(one JSON object, None or _BLANK per line; whether every line was an object).

    When every line of the batch starts with '{', ends with '}' and holds no other brace,
    no JSON value can span two of them or share one, so the batch is parsed as one JSON
    array (one C call instead of one per line), and its objects, holding no brace inside,
    are flat. Any other batch, or one whose array does not parse into one object per
    line, is parsed line by line."""
    joined = ",".join(lines)
    if (joined.count("{") == len(lines) == joined.count("}")
            and all(map(str.startswith, lines, repeat("{"))) and all(map(str.endswith, lines, repeat("}")))
            and max(map(len, lines)) <= MAX_LINE_CHARS):
        try:
            records = json.loads("[" + joined + "]")
        except (ValueError, RecursionError):  # ValueError: JSONDecodeError, or an int past the digit limit
            records = None  # a garbage line among them: find it line by line
        if records is not None and len(records) == len(lines):
            return records, True
    return [_BLANK if not line or line.isspace() else _parse_line(line) if len(line) <= MAX_LINE_CHARS else None
            for line in lines], False


def _limit(too_long: int) -> str:
    """The part of a message that says how many lines were over the line limit."""
    return f"; {too_long} longer than the {MAX_LINE_CHARS:,}-character line limit" if too_long else ""


def _parse_line(line: str) -> dict | None:
    """One JSON object, or None for anything else (garbage, a cut-off line, a bare list)."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):  # ValueError: JSONDecodeError, or an int past the digit limit
        return None
    return record if isinstance(record, dict) else None


def read_json_records(path: Path) -> Run:
    """Read a JSON list of records, or a dict of metric lists (Keras `history.history`)."""
    builder = RunBuilder(path, "json_records")
    document = load_json(path, builder.notes)
    if isinstance(document, dict) and document and all(isinstance(v, list) for v in document.values()):
        document = _columns_to_records(document)
    if not isinstance(document, list):
        raise InputError(path, "JSON is neither a list of records nor a dict of metric lists")
    records = flatten_all([item for item in document if isinstance(item, dict)])
    if len(records) < len(document):
        builder.notes.append(f"skipped {plural(len(document) - len(records), 'list item')} holding no object")
    if not records:
        raise InputError(path, "JSON list holds no records")
    add_records(builder, records)
    return builder.finish()


def _columns_to_records(columns: dict[str, list]) -> list[dict]:
    """{'loss': [..], 'val_loss': [..]} -> one record per row (shorter lists just end)."""
    length = max(len(v) for v in columns.values())
    return [{k: v[i] for k, v in columns.items() if i < len(v)} for i in range(length)]
