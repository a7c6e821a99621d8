"""Protobuf fields of many messages at once: a lockstep walk with numpy.

`tb_scalars` decodes one message at a time in Python; a W&B log holds millions of small
messages of varying layout, so here every message of a batch advances by one field per
round: a round reads each active message's tag and length with a few numpy gathers.
The usual field (a tag of one or two bytes, a length-delimited value shorter than 128
bytes) takes the fast path; any other field (a varint, a fixed-width number, a long
value) takes the general varint path, for the elements that need it only. The walk
checks what a parser must: no field runs past its message, no unknown wire type.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tb_scalars import WireError


@dataclass
class Fields:
    """Every field of a batch of messages, in round order: which message (`msg`, an index
    into the batch), field number, wire type, and the value's span [start, end) in `data`
    (for a varint field, the varint's bytes)."""

    msg: np.ndarray
    num: np.ndarray
    wire: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def select(self, num: int, wire: int = 2) -> np.ndarray:
        """Indices of the fields with this number and wire type."""
        return np.flatnonzero((self.num == num) & (self.wire == wire))


class BadMessage(WireError):
    """A message of the batch is malformed; `index` is its position in the batch."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(problem)
        self.index = index


def varints(data: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value as uint64, position after it) of the varint at every position."""
    value = np.zeros(pos.size, np.uint64)
    after = np.zeros(pos.size, np.int64)
    active = np.arange(pos.size)
    for k in range(10):
        b = data[pos[active] + k]
        value[active] |= (b & 0x7F).astype(np.uint64) << np.uint64(7 * k)
        done = b < 0x80
        after[active[done]] = pos[active[done]] + k + 1
        active = active[~done]
        if not active.size:
            return value, after
    raise BadMessage(int(active[0]), "bad varint")


def walk(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> Fields:
    """Every field of the messages data[starts[i]:ends[i]]. `data` must be followed by at
    least 16 zero bytes (reads near a message's end stay in bounds)."""
    parts: list[tuple[np.ndarray, ...]] = []
    msg = np.flatnonzero(ends > starts)
    pos, end = starts[msg].astype(np.int64), ends[msg].astype(np.int64)
    while msg.size:
        try:
            num, wire, a, b = _round(data, pos)
        except BadMessage as e:
            raise BadMessage(int(msg[e.index]), str(e)) from None
        bad = (b > end) | (num == 0)
        if bad.any():
            raise BadMessage(int(msg[np.argmax(bad)]), "field runs past its message")
        parts.append((msg, num, wire, a, b))
        more = b < end
        msg, pos, end = msg[more], b[more], end[more]
    if not parts:
        empty = np.zeros(0, np.int64)
        return Fields(empty, empty, empty, empty, empty)
    return Fields(*(np.concatenate(col) for col in zip(*parts)))


def _round(data: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, ...]:
    """One field at every position: (number, wire type, value start, value end)."""
    b0 = data[pos].astype(np.int64)
    b1 = data[pos + 1].astype(np.int64)
    one = (b0 < 0x80) & ((b0 & 7) == 2) & (b1 < 0x80)  # 1-byte tag, short value
    two = (b0 >= 0x80) & ((b0 & 7) == 2) & (b1 < 0x80) & (b1 > 0)  # 2-byte tag
    b2 = data[pos + 2].astype(np.int64)
    two &= b2 < 0x80
    tag = np.where(two, (b0 & 0x7F) | (b1 << 7), b0)
    start = np.where(two, pos + 3, pos + 2)
    stop = start + np.where(two, b2, b1)
    slow = np.flatnonzero(~(one | two))
    if slow.size:
        try:
            tag[slow], start[slow], stop[slow] = _general(data, pos[slow])
        except BadMessage as e:
            raise BadMessage(int(slow[e.index]), str(e)) from None
    wire = tag & 7
    return tag >> 3, wire, start, stop


def _general(data: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, ...]:
    """Any field: its tag, value start and value end, by varints."""
    tag, after = varints(data, pos)
    if np.any(tag >> np.uint64(32)):
        raise BadMessage(int(np.argmax(tag >> np.uint64(32) > 0)), "bad field tag")
    tag = tag.astype(np.int64)
    wire = tag & 7
    start, stop = after.copy(), after.copy()
    for kind, width in ((1, 8), (5, 4)):
        sel = wire == kind
        stop[sel] = after[sel] + width
    sel = np.flatnonzero(wire == 0)
    if sel.size:
        stop[sel] = varints(data, after[sel])[1]
    sel = np.flatnonzero(wire == 2)
    if sel.size:
        length, at = varints(data, after[sel])
        length = np.minimum(length, np.uint64(1 << 40)).astype(np.int64)  # a huge length fails the bounds check
        start[sel], stop[sel] = at, at + length
    odd = np.flatnonzero(~np.isin(wire, (0, 1, 2, 5)))
    if odd.size:
        raise BadMessage(int(odd[0]), f"unsupported wire type {int(wire[odd[0]])}")
    return tag, start, stop
