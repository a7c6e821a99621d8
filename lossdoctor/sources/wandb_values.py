"""Byte spans of a W&B log as keys and numbers, many at a time.

Keys: the spans of a length class are gathered as fixed-width rows, hashed over their
8-byte words, the hashes factorised, and each row then compared word by word with its
group's first row, so that a hash collision costs time (those spans are grouped exactly
in Python), never a wrong key.

Values: `value_json` holds JSON text. Those that start like a number (wandb writes
`NaN`, `Infinity`, `-Infinity` too) are gathered right-aligned into rows of one width,
led by spaces, one per line, and parsed by pandas' C reader, which rounds exactly (pandas
>= 3; `round_trip` before); if any line is not a number (or breaks the one-per-line
count), every one of them is parsed with `json` instead. A string, a bool, a list or a
histogram is not a number.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np


MAX_VALUE = 32  # longer numbers (a 30-digit integer) are parsed one by one
KEY_WIDTHS = (16, 64, 256)  # key length classes; the buffer must have this many zero bytes after it
_NUMBER_START = np.zeros(256, bool)
_NUMBER_START[list(b"-0123456789NI")] = True
_MULT = np.uint64(0x9E3779B97F4A7C15)


def gather(data: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """`width` bytes from every start, one row per start: an (n, width) uint8 array."""
    windows = np.ndarray((data.size - width + 1,), np.dtype((np.void, width)), buffer=data, strides=(1,))
    return windows[starts].view(np.uint8).reshape(starts.size, width)


def key_codes(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
    """(code per span, the distinct byte strings by code): spans with equal bytes share a code.
    Spans are taken by length class (equal spans have equal lengths, so share a class)."""
    n = ends - starts
    codes = np.zeros(n.size, np.int64)
    names: list[bytes] = []
    done = np.zeros(n.size, bool)
    for width in KEY_WIDTHS:
        sel = np.flatnonzero(~done & (n <= width))
        if sel.size:
            c, found = _class_codes(data, starts[sel], n[sel], width)
            codes[sel] = c + len(names)
            names += found
            done[sel] = True
    table = {name: code for code, name in enumerate(names)}
    for i in np.flatnonzero(~done).tolist():  # longer than any class
        raw = data[starts[i] : ends[i]].tobytes()
        codes[i] = table.setdefault(raw, len(table))
        if codes[i] == len(names):
            names.append(raw)
    return codes, names


def _class_codes(data: np.ndarray, starts: np.ndarray, n: np.ndarray, width: int) -> tuple[np.ndarray, list[bytes]]:
    """`key_codes` for spans of at most `width` bytes: hashed as words, then checked word by word."""
    import pandas as pd

    rows = gather(data, starts, width)
    rows[np.arange(width) >= n[:, None]] = 0
    words = rows.view("<u8")
    h = n.astype(np.uint64) * _MULT
    for j in range(words.shape[1]):
        h = (h ^ words[:, j]) * _MULT
    codes, _ = pd.factorize(h)
    first = np.zeros(codes.max() + 1, np.int64)
    first[codes[::-1]] = np.arange(codes.size)[::-1]  # the first span of each code
    rep = first[codes]
    same = (n == n[rep]) & (words == words[rep]).all(axis=1)
    names = [rows[i, : n[i]].tobytes() for i in first.tolist()]
    if not same.all():  # a hash collision: those spans grouped exactly
        table = {name: code for code, name in enumerate(names)}
        for i in np.flatnonzero(~same).tolist():
            raw = rows[i, : n[i]].tobytes()
            codes[i] = table.setdefault(raw, len(table))
            if codes[i] == len(names):
                names.append(raw)
    return codes, names


def numbers(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(float64 per span, mask of the spans holding a JSON number)."""
    values = np.full(starts.size, np.nan)
    ok = np.zeros(starts.size, bool)
    n = ends - starts
    cand = np.flatnonzero((n > 0) & _NUMBER_START[data[starts]])
    short = cand[(n[cand] <= MAX_VALUE) & (ends[cand] >= MAX_VALUE)]
    if short.size:  # right-aligned in rows of one width, led by spaces: one line each
        width = int(n[short].max())
        rows = np.empty((short.size, width + 1), np.uint8)
        rows[:, :width] = gather(data, ends[short] - width, width)
        rows[:, :width][np.arange(width) < (width - n[short])[:, None]] = ord(" ")
        rows[:, width] = ord("\n")
        parsed = _parse_lines(rows.tobytes(), short.size)
        if parsed is not None:
            values[short], ok[short] = parsed, True
    for i in cand[~ok[cand]].tolist():  # the rest, or all if a line was odd
        number = _json_number(data[starts[i] : ends[i]].tobytes())
        if number is not None:
            values[i], ok[i] = number, True
    return values, ok


def _parse_lines(blob: bytes, count: int) -> np.ndarray | None:
    """Parse one number per non-blank line with pandas' C reader; None if any line is not one."""
    import pandas as pd

    if not count:
        return np.zeros(0)
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    try:
        frame = pd.read_csv(io.BytesIO(blob), header=None, names=["v"], dtype=np.float64, engine="c",
                            na_values=["NaN"], keep_default_na=False, skipinitialspace=True,
                            skip_blank_lines=False, **exact)
    except (ValueError, TypeError):
        return None
    out = frame["v"].to_numpy()
    return out if out.size == count else None


def _json_number(raw: bytes) -> float | None:
    """The JSON text as a float when it is a number (bools are not), else None."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond float range
        return math.inf if value > 0 else -math.inf
