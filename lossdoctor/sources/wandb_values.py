"""Byte spans of a W&B log as keys and numbers, many at a time.

Keys: every span is hashed (a polynomial over its little-endian 8-byte words, read as
unaligned uint64 views of the buffer), the hashes factorised, and each span then compared
word by word with its group's first span, so that a hash collision costs time (those
spans are grouped exactly in Python), never a wrong key.

Values: `value_json` holds JSON text. The numbers (including wandb's `NaN`, `Infinity`,
`-Infinity`) are gathered into one newline-separated text and parsed by pandas' C
reader, which rounds exactly (pandas >= 3; `round_trip` before); anything else (a
string, a bool, a list, a histogram) is not a number, and anything odd is parsed one by
one with `json`.
"""

from __future__ import annotations

import io
import json

import numpy as np


MAX_VALUE = 32  # longer numbers (a 30-digit integer) are parsed one by one
_NUMBER_START = np.zeros(256, bool)
_NUMBER_START[list(b"-0123456789NI")] = True
_NUMBER_BYTES = np.zeros(256, bool)
_NUMBER_BYTES[list(b"+-.0123456789eENaInfinity")] = True
_MULT = np.uint64(0x9E3779B97F4A7C15)


def words(data: np.ndarray) -> np.ndarray:
    """The little-endian uint64 starting at every byte of `data` (an unaligned strided view)."""
    return np.ndarray((data.size - 7,), "<u8", buffer=data, strides=(1,))


def gather(data: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """`width` bytes from every start, one row per start: an (n, width) uint8 array."""
    windows = np.ndarray((data.size - width + 1,), np.dtype((np.void, width)), buffer=data, strides=(1,))
    return windows[starts].view(np.uint8).reshape(starts.size, width)


def key_codes(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
    """(code per span, the distinct byte strings by code): spans with equal bytes share a code."""
    import pandas as pd

    n = ends - starts
    view = words(data)
    h = n.astype(np.uint64) * _MULT
    rounds = int(-(-n.max() // 8)) if n.size else 0
    for w in range(rounds):
        live = np.flatnonzero(n > 8 * w)
        h[live] = (h[live] ^ _word(view, starts[live], n[live], w)) * _MULT + np.uint64(w)
    codes, _ = pd.factorize(h)
    first = np.full(codes.max() + 1 if codes.size else 0, -1, np.int64)
    first[codes[::-1]] = np.arange(codes.size)[::-1]  # the first span of each code
    rep = first[codes]
    same = n == n[rep]
    for w in range(rounds):
        live = np.flatnonzero(same & (n > 8 * w))
        same[live] &= _word(view, starts[live], n[live], w) == _word(view, starts[rep[live]], n[live], w)
    names = [data[starts[i] : ends[i]].tobytes() for i in first.tolist()]
    if not same.all():  # a hash collision: group those spans exactly
        table = {name: code for code, name in enumerate(names)}
        for i in np.flatnonzero(~same).tolist():
            raw = data[starts[i] : ends[i]].tobytes()
            codes[i] = table.setdefault(raw, len(table))
            if codes[i] == len(names):
                names.append(raw)
    return codes, names


def _word(view: np.ndarray, starts: np.ndarray, n: np.ndarray, w: int) -> np.ndarray:
    """Word `w` of each span, its bytes past the span's end zeroed."""
    left = np.minimum(n - 8 * w, 8).astype(np.uint64)
    mask = np.where(left >= 8, np.uint64(0xFFFFFFFFFFFFFFFF), (np.uint64(1) << (left * np.uint64(8))) - np.uint64(1))
    return view[starts + 8 * w] & mask


def numbers(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(float64 per span, mask of the spans holding a JSON number). Needs 32 zero bytes after `data`'s spans."""
    values = np.full(starts.size, np.nan)
    n = ends - starts
    cand = np.flatnonzero((n > 0) & _NUMBER_START[data[starts]])
    short = cand[n[cand] <= MAX_VALUE]
    ok = np.zeros(starts.size, bool)
    if short.size:
        width = int(n[short].max()) + 1
        rows = gather(data, starts[short], width)
        tail = np.arange(width) >= n[short][:, None]
        clean = (_NUMBER_BYTES[rows] | tail).all(axis=1)
        rows[tail] = ord("\n")
        good = short[clean]
        parsed = _parse_lines(rows[clean].tobytes(), good.size)
        if parsed is not None:
            values[good], ok[good] = parsed, True
        short = short[~clean] if parsed is not None else short
    for i in np.concatenate([short, cand[n[cand] > MAX_VALUE]]).tolist():
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
                            na_values=["NaN"], keep_default_na=False, **exact)
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
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
