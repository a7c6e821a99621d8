"""The usual byte layouts of W&B records, checked for many records at once.

Serialisers write fields in field-number order, so a Record is `08 <num varint>` then its
one `record_type` field: `12 <len>` for history, another tag for the other types. An item
as wandb writes it is `12|0A <klen> <key> 82 01 <vlen> <value>`: one key (or a single
nested_key part) and then value_json, filling the item exactly. Whatever does not have
that layout (a nested key of several parts, a field order of some other writer, a length
of 128 bytes or more) is left to the general walk (`wire_lockstep`), which decides
everything it is given; these checks only spare it the common case.
"""

from __future__ import annotations

import numpy as np

# Field numbers of Record.record_type members other than history, with one-byte tags.
_OTHER_TYPES = np.zeros(256, bool)
for _num in range(3, 14):
    _OTHER_TYPES[(_num << 3) | 2] = True


def _short_varint(data: np.ndarray, pos: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, position after, ok) of varints of at most `most` bytes at `pos`."""
    value = np.zeros(pos.size, np.int64)
    after = np.zeros(pos.size, np.int64)
    open_ = np.ones(pos.size, bool)
    for k in range(most):
        b = data[pos + k].astype(np.int64)
        value |= np.where(open_, (b & 0x7F) << (7 * k), 0)
        stop = open_ & (b < 0x80)
        after[stop] = pos[stop] + k + 1
        open_ &= ~stop
    return value, after, ~open_


def history_spans(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, ...]:
    """(records holding history, their history spans, records left to the general walk)."""
    lead = data[starts] == 0x08
    _, at, ok = _short_varint(data, starts + 1, 5)  # Record.num
    ok &= lead
    tag = data[at]
    length, body, ok_len = _short_varint(data, at + 1, 3)
    hist = ok & (tag == 0x12) & ok_len & (body + length <= ends)
    other = ok & _OTHER_TYPES[tag]
    rec = np.flatnonzero(hist)
    return rec, body[rec], (body + length)[rec], np.flatnonzero(~hist & ~other)


def item_spans(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, ...]:
    """(mask of items in the usual layout, key start, key end, value start, value end)."""
    t0 = data[starts]
    klen = data[starts + 1].astype(np.int64)
    ok = ((t0 == 0x12) | (t0 == 0x0A)) & (klen < 0x80)
    ke = starts + 2 + klen
    tail = np.minimum(ke, ends)  # a bad klen must not read far past the item
    vlen = data[tail + 2].astype(np.int64)
    ok &= (data[tail] == 0x82) & (data[tail + 1] == 0x01) & (vlen < 0x80) & (ke + 3 + vlen == ends)
    return ok, starts + 2, ke, ke + 3, ends.copy()
