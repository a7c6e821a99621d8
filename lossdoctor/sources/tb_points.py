"""Scalar points as the decoder finds them (by group), put back into file order per tag."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from .tb_scalars import Layout

Scalars = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
_SLOT_BITS = 16  # order key = record index << 16 | value index within the record


class Points:
    """Scalar points collected group by group, put back into file order segment by segment."""

    def __init__(self, wanted: Callable[[str], bool] | None = None) -> None:
        self.wanted = wanted  # decode the values of a tag only when wanted(tag); count the rest
        self.decided: dict[str, bool] = {}
        self.counted: dict[tuple[str, bool], int] = defaultdict(int)  # (tag, tensor) -> points not decoded
        self.offset = 0  # records before the current segment
        self.chunks: dict[str, list[tuple]] = defaultdict(list)  # this segment's, by group
        self.rows: dict[str, list[tuple]] = defaultdict(list)  # this segment's, one by one
        self.parts: dict[str, list[tuple]] = defaultdict(list)  # finished segments, in file order
        self.first: dict[tuple[str, bool], int] = {}  # (tag, tensor) -> key of its first point
        self.plugin: dict[str, tuple[int, str]] = {}

    def _metas(self, index: int, layout: Layout) -> None:
        # As TensorBoard does, the first value *with* metadata decides a tag's plugin.
        for tag, plugin in layout.metas:
            if tag not in self.plugin or self.plugin[tag][0] > index:
                self.plugin[tag] = (index, plugin)

    def wants(self, tag: str) -> bool:
        """Whether the values of this tag are to be decoded (decided once per tag)."""
        if self.wanted is None:
            return True
        if tag not in self.decided:
            self.decided[tag] = bool(self.wanted(tag))
        return self.decided[tag]

    def count(self, first: int, layout: Layout, records: int) -> bool:
        """Count, not decode, `records` records of this layout (the first at `first` within the
        segment) when none of its tags is wanted; True when counted."""
        if any(self.wants(slot.tag) for slot in layout.slots):
            return False
        self._metas(first + self.offset, layout)
        for slot in layout.slots:
            self.counted[(slot.tag, slot.tensor)] += records
        return True

    def add_layout(self, index: int, layout: Layout) -> None:
        """One record decoded on its own (`index` within the segment)."""
        index += self.offset
        self._metas(index, layout)
        for k, slot in enumerate(layout.slots):
            if not self.wants(slot.tag):
                self.counted[(slot.tag, slot.tensor)] += 1
                continue
            key = (index << _SLOT_BITS) + k
            self.rows[slot.tag].append((key, layout.step, layout.wall_time, slot.value, slot.tensor))

    def add_group(self, index: np.ndarray, layout: Layout, steps: np.ndarray, walls: np.ndarray,
                  values: list[np.ndarray | None]) -> None:
        """A group of records sharing `layout` (its first record is index[0]): their steps,
        wall times and one array of values per slot of the layout (None: not wanted)."""
        index = index.astype(np.int64) + self.offset
        self._metas(int(index[0]), layout)
        for k, (slot, column) in enumerate(zip(layout.slots, values)):
            if column is None:  # a tag not wanted, in a record with one that is
                self.counted[(slot.tag, slot.tensor)] += index.size
                continue
            self.chunks[slot.tag].append(((index << _SLOT_BITS) + k, steps, walls, column, slot.tensor))

    def end_segment(self, records: int) -> None:
        """Put this segment's points of each tag into file order and set them aside."""
        for tag, rows in self.rows.items():
            for tensor in (False, True):
                sel = [r for r in rows if r[4] is tensor]
                if sel:
                    cols = list(zip(*sel))
                    self.chunks[tag].append((np.array(cols[0], np.int64), np.array(cols[1], np.int64),
                                             np.array(cols[2], np.float64), np.array(cols[3], np.float64), tensor))
        for tag, chunks in self.chunks.items():
            for tensor in (False, True):
                keys = [c[0].min() for c in chunks if c[4] is tensor]
                if keys and (tag, tensor) not in self.first:
                    self.first[(tag, tensor)] = int(min(keys))
            self.parts[tag].append(_merge(chunks))
        self.chunks.clear()
        self.rows.clear()
        self.offset += records

    def result(self) -> Scalars:
        """tag -> (steps, wall times, values) in file order; tags in order of first point.
        A tensor point counts only when its tag's plugin is "scalars"."""
        out = {}
        for tag in list(self.parts):
            parts = self.parts.pop(tag)  # freed tag by tag: the file's points are never held twice
            steps, walls, values, tensor = (np.concatenate([p[i] for p in parts]) for i in range(4))
            firsts = [self.first.get((tag, False))]
            if self.plugin.get(tag, (0, ""))[1] == "scalars":
                firsts.append(self.first.get((tag, True)))
            elif tensor.any():
                keep = ~tensor
                steps, walls, values = steps[keep], walls[keep], values[keep]
            if steps.size:
                out[tag] = (min(f for f in firsts if f is not None), (steps, walls, values))
        return {tag: arrays for tag, (_, arrays) in sorted(out.items(), key=lambda kv: kv[1][0])}

    def not_decoded(self) -> dict[str, int]:
        """tag -> points counted but not decoded (tensors only for tags of the scalars plugin)."""
        out: dict[str, int] = defaultdict(int)
        for (tag, tensor), n in self.counted.items():
            if not tensor or self.plugin.get(tag, (0, ""))[1] == "scalars":
                out[tag] += n
        return dict(out)


def _merge(chunks: list[tuple]) -> tuple:
    """Concatenate chunks and restore file order (chunks arrive grouped, not in order)."""
    keys, steps, walls, values = (np.concatenate([c[i] for c in chunks]) for i in range(4))
    tensor = np.concatenate([np.full(c[0].size, c[4]) for c in chunks])
    if keys.size > 1 and not np.all(keys[1:] > keys[:-1]):
        order = np.argsort(keys, kind="stable")
        steps, walls, values, tensor = steps[order], walls[order], values[order], tensor[order]
    return steps.astype(np.int64), walls, values, tensor
