"""History rows of a W&B transaction log, decoded a segment at a time: (key, step, value) points.

Record {1: num, 2: history, ...}; HistoryRecord {1: item (repeated), 2: step {1: num}};
HistoryItem {1: key, 2: nested_key (repeated), 16: value_json}. wandb-core writes
`nested_key` (["loss"], or ["train", "loss"] for a logged nested dict), the older Python
writer `key`; nested parts are joined with "." as the W&B UI shows them. The step of a
row is its `_step` item (wandb writes one in every row), else `step.num`. The internal
`_runtime`, `_timestamp` and `_wandb.*` keys are not metrics, and neither is any part of a
logged media object or histogram (a group with a `_type` key).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .wandb_layout import history_spans, item_spans
from .wandb_log import PAD, Segment, check_crcs
from .wandb_values import key_codes, numbers
from .wire_lockstep import BadMessage, Fields, varints, walk

INTERNAL = frozenset({"_step", "_runtime", "_timestamp"})
KeyFilter = Callable[[str], bool]


class HistoryError(Exception):
    """A history record is malformed or fails its checksum: `offset` is its chunk's."""

    def __init__(self, offset: int, problem: str) -> None:
        super().__init__(problem)
        self.offset = offset


class History:
    """Points of every key, collected segment by segment (in file order)."""

    def __init__(self, wanted: KeyFilter | None = None, verify: bool = False) -> None:
        self.wanted, self.verify = wanted, verify
        self.ids: dict[str, int] = {}  # key name -> id, in order of first appearance
        self.use: list[bool] = []  # per id: collect its points
        self.parts: list[tuple[np.ndarray, ...]] = []  # (key id, step, value, record offset) per batch
        self.rows = 0
        self.non_numeric: dict[str, int] = {}
        self.counts = np.zeros(0, np.int64)  # items per key id, when not every key is wanted

    def add_segment(self, seg: Segment) -> None:
        """Decode the history rows of one segment's records."""
        ends = seg.starts + seg.lengths
        if self.verify:  # every chunk's checksum, not only those of the history records
            bad = check_crcs(seg, np.arange(seg.starts.size))
            if bad is not None:
                raise HistoryError(bad, f"corrupt record at byte {bad:,} (checksum mismatch)")
        self._batch(seg.data, seg.starts, ends, seg.base + seg.starts - 7, lambda rec: check_crcs(seg, rec))
        if seg.big:  # records of several chunks: their own buffer, in file order among the rest
            blob = b"".join(p for _, p in seg.big) + bytes(PAD)
            sizes = np.array([len(p) for _, p in seg.big], np.int64)
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            self._batch(np.frombuffer(blob, np.uint8), starts, starts + sizes,
                        np.array([at for at, _ in seg.big], np.int64), lambda rec: None)

    def _batch(self, data: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               offsets: np.ndarray, check: Callable[[np.ndarray], int | None]) -> None:
        """The history rows among records data[starts[i]:ends[i]] (at file `offsets`)."""
        record, hs, he = _histories(data, starts, ends, offsets)
        bad = check(record)
        if bad is not None:
            raise HistoryError(bad, f"corrupt record at byte {bad:,} (checksum mismatch)")
        rows = _walk(data, hs, he, offsets[record])
        it = rows.select(1)
        row_of_item = rows.msg[it]
        ks, ke, vs, ve, multi = _items(data, rows.start[it], rows.end[it], offsets[record[row_of_item]])
        key_id = self._keys(data, ks, ke, multi)
        steps = self._steps(data, rows, hs.size, row_of_item, key_id, vs, ve, offsets[record])
        self._values(data, key_id, vs, ve, steps[row_of_item], offsets[record[row_of_item]])
        self.rows += hs.size

    def _keys(self, data: np.ndarray, ks: np.ndarray, ke: np.ndarray, multi: dict[int, str]) -> np.ndarray:
        """The key id of every item (-1: no key); `multi`: names of nested keys by item."""
        key_id = np.full(ks.size, -1, np.int64)
        idx = np.flatnonzero(ke > ks)
        if idx.size:
            codes, names = key_codes(data, ks[idx], ke[idx])
            lookup = np.array([self._id(raw.decode("utf-8", "replace")) for raw in names], np.int64)
            key_id[idx] = lookup[codes]
        for i, name in multi.items():
            key_id[i] = self._id(name)
        return key_id

    def _id(self, name: str) -> int:
        """The id of a key name, new ones numbered in order of first appearance."""
        if name not in self.ids:
            self.ids[name] = len(self.ids)
            internal = name in INTERNAL or name.startswith("_wandb")
            self.use.append(not internal and (self.wanted is None or self.wanted(name)))
        return self.ids[name]

    def _steps(self, data: np.ndarray, rows: Fields, count: int, row_of_item: np.ndarray,
               key_id: np.ndarray, vs: np.ndarray, ve: np.ndarray, row_offsets: np.ndarray) -> np.ndarray:
        """The step of every row: its `_step` item, else its step.num (0 when unset)."""
        steps = np.zeros(count)
        sm = rows.select(2)
        if sm.size:  # HistoryStep {1: num}, a varint
            inner = _walk(data, rows.start[sm], rows.end[sm], row_offsets[rows.msg[sm]])
            v = inner.select(1, 0)
            steps[rows.msg[sm][inner.msg[v]]] = varints(data, inner.start[v])[0].view(np.int64)
        step_id = self.ids.get("_step")
        if step_id is not None:
            sel = np.flatnonzero(key_id == step_id)
            got, ok = numbers(data, vs[sel], ve[sel])
            steps[row_of_item[sel[ok]]] = got[ok]
        return steps

    def _values(self, data: np.ndarray, key_id: np.ndarray, vs: np.ndarray, ve: np.ndarray,
                steps: np.ndarray, order: np.ndarray) -> None:
        """Collect the numeric values of the keys in use; count the others."""
        use = np.array(self.use, bool)
        sel = np.flatnonzero((key_id >= 0) & use[np.maximum(key_id, 0)])
        if self.wanted is not None:  # count the items of every key (for those not decoded)
            counts = np.bincount(key_id[key_id >= 0], minlength=len(self.use))
            counts[: self.counts.size] += self.counts
            self.counts = counts
        got, ok = numbers(data, vs[sel], ve[sel])
        skipped = np.bincount(key_id[sel[~ok]], minlength=len(self.use))
        for name, k in self.ids.items():
            if k < skipped.size and skipped[k]:
                self.non_numeric[name] = self.non_numeric.get(name, 0) + int(skipped[k])
        self.parts.append((key_id[sel[ok]], steps[sel[ok]], got[ok], order[sel[ok]]))

    def not_decoded(self) -> dict[str, int]:
        """key -> items counted but not decoded (keys `wanted` refused; internal keys left out)."""
        return {name: int(self.counts[k]) for name, k in self.ids.items()
                if k < self.counts.size and not self.use[k] and name not in INTERNAL and not name.startswith("_wandb")}

    def result(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """name -> (steps, values) in file order, for every key in use with a number;
        media and histogram groups (keys under a prefix that has a `._type` key) left out."""
        media = {name[: -len("._type")] for name in self.ids if name.endswith("._type")}
        keys, steps, values, at = (np.concatenate([p[i] for p in self.parts]) if self.parts else np.zeros(0)
                                   for i in range(4))
        keys = keys.astype(np.int64)
        order = np.argsort(keys, kind="stable")
        cuts = np.flatnonzero(np.diff(keys[order])) + 1
        out = {}
        names = {k: name for name, k in self.ids.items()}
        for group in np.split(order, cuts) if order.size else []:
            name = names[int(keys[group[0]])]
            if not any(name == m or name.startswith(m + ".") for m in media):
                if group.size > 1 and np.any(np.diff(at[group]) < 0):  # a big record came later
                    group = group[np.argsort(at[group], kind="stable")]
                out[name] = (steps[group], values[group])
        return out


def _histories(data: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(record index, history start, history end) of the history records, in record order."""
    record, hs, he, rest = history_spans(data, starts, ends)
    if rest.size:  # records of another layout: the general walk
        top = _walk(data, starts[rest], ends[rest], offsets[rest])
        h = top.select(2)
        record, hs, he = (np.concatenate(p) for p in ((record, rest[top.msg[h]]), (hs, top.start[h]), (he, top.end[h])))
        order = np.argsort(record, kind="stable")
        record, hs, he = record[order], hs[order], he[order]
    return record, hs, he


def _items(data: np.ndarray, starts: np.ndarray, ends: np.ndarray,
           offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[int, str]]:
    """Key and value spans of every item (empty when absent), and the joined names of the
    items whose key has several nested parts."""
    ok, ks, ke, vs, ve = item_spans(data, starts, ends)
    rest = np.flatnonzero(~ok)
    multi: dict[int, str] = {}
    if not rest.size:
        return ks, ke, vs, ve, multi
    ks[rest], ke[rest], vs[rest], ve[rest] = 0, 0, 0, 0
    items = _walk(data, starts[rest], ends[rest], offsets[rest])
    v = items.select(16)
    vs[rest[items.msg[v]]], ve[rest[items.msg[v]]] = items.start[v], items.end[v]
    nested = items.select(2)
    parts = np.bincount(items.msg[nested], minlength=rest.size)
    one = nested[parts[items.msg[nested]] == 1]
    plain = items.select(1)
    for sel in (one, plain):  # `key` wins over `nested_key`, as in wandb
        ks[rest[items.msg[sel]]], ke[rest[items.msg[sel]]] = items.start[sel], items.end[sel]
    for i in np.flatnonzero(parts > 1).tolist():
        if ke[rest[i]] == ks[rest[i]]:  # no plain key: join the nested parts
            sel = nested[items.msg[nested] == i]
            multi[int(rest[i])] = ".".join(data[a:b].tobytes().decode("utf-8", "replace")
                                           for a, b in zip(items.start[sel].tolist(), items.end[sel].tolist()))
    return ks, ke, vs, ve, multi


def _walk(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, offsets: np.ndarray) -> Fields:
    """`walk`, with a malformed message reported at its record's file offset."""
    try:
        return walk(data, starts, ends)
    except BadMessage as e:
        at = int(offsets[e.index])
        raise HistoryError(at, f"record at byte {at:,} is not a valid W&B record ({e})") from None
