"""A small protobuf wire decoder for TensorBoard `Event` records: where the scalars are.

`parse_event` walks one record's fields (Event -> Summary -> Value -> TensorProto) and
returns a `Layout`: the decoded wall time, step and scalar values, and also *where* each
of them sits in the record. Records laid out identically (same bytes except those
numbers) can then be decoded as a group with numpy; this decoder is the one that
decides what a record means, and it alone is correct for every record. Images,
histograms, audio, graphs and text are skipped by their length, never decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

# TensorProto dtype enum -> (numpy dtype of one element, the typed repeated field number).
DTYPES = {1: ("<f4", 5), 2: ("<f8", 6), 3: ("<i4", 7), 9: ("<i8", 10), 19: ("<f2", 13)}
_WIDTH = {"<f4": 4, "<f8": 8, "<i4": 4, "<i8": 8, "<f2": 2}


class WireError(Exception):
    """The record is not a well-formed protobuf message."""


@dataclass
class Slot:
    """One scalar value: its tag, decoded value, and (if fixed-width) offset and dtype."""

    tag: str
    value: float
    tensor: bool  # a tensor counts only if the tag's plugin is "scalars"
    offset: int | None = None
    dtype: str | None = None


@dataclass
class Layout:
    """What one Event record holds, and where: offsets are into the record data."""

    wall_time: float = 0.0
    step: int = 0
    wall_at: int | None = None
    step_at: tuple[int, int] | None = None  # offset and byte count of the step varint
    slots: list[Slot] = field(default_factory=list)
    metas: list[tuple[str, str]] = field(default_factory=list)  # (tag, plugin) per metadata

    @property
    def fixed(self) -> bool:
        """Whether every value sits at a fixed-width position (so a group can share it)."""
        return all(s.offset is not None for s in self.slots)


def varint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at `pos`: (value as uint64, position after it)."""
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireError("bad varint")
        b = data[pos]
        result |= (b & 0x7F) << shift
        pos += 1
        if b < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7


def fields(data: bytes, pos: int, end: int):
    """Yield (field number, wire type, start, end) of each field in data[pos:end]."""
    while pos < end:
        key, pos = varint(data, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            _, nxt = varint(data, pos)
        elif wire == 1:
            nxt = pos + 8
        elif wire == 2:
            size, pos = varint(data, pos)
            nxt = pos + size
        elif wire == 5:
            nxt = pos + 4
        else:  # groups (3/4) are never written by TensorBoard writers
            raise WireError(f"unsupported wire type {wire}")
        if nxt > end:
            raise WireError("field runs past its message")
        yield num, wire, pos, nxt
        pos = nxt


def _signed(v: int) -> int:
    """uint64 two's complement -> int64."""
    return v - (1 << 64) if v >= 1 << 63 else v


def parse_event(data: bytes) -> Layout:
    """Decode one Event record's wall time, step and scalar summary values."""
    out = Layout()
    for num, wire, a, b in fields(data, 0, len(data)):
        if num == 1 and wire == 1:
            out.wall_time, out.wall_at = struct.unpack_from("<d", data, a)[0], a
        elif num == 2 and wire == 0:
            out.step, out.step_at = _signed(varint(data, a)[0]), (a, b - a)
        elif num == 5 and wire == 2:  # summary; repeated occurrences merge (append values)
            for vnum, vwire, va, vb in fields(data, a, b):
                if vnum == 1 and vwire == 2:
                    _parse_value(data, va, vb, out)
    return out


def _parse_value(data: bytes, a: int, b: int, out: Layout) -> None:
    """Add one Summary.Value: simple_value or a numeric one-element tensor (oneof: last wins)."""
    tag, kind, plugin, has_meta = "", None, "", False
    for num, wire, fa, fb in fields(data, a, b):
        if num == 1 and wire == 2:
            tag = data[fa:fb].decode("utf-8", "replace")
        elif num == 2 and wire == 5:
            kind = Slot("", struct.unpack_from("<f", data, fa)[0], False, fa, "<f4")
        elif num == 8 and wire == 2:
            kind = _parse_tensor(data, fa, fb)
        elif num in (3, 4, 5, 6) and wire == 2:
            kind = None  # histogram, image, audio: another member of the oneof
        elif num == 9 and wire == 2:
            has_meta, plugin = True, _plugin_name(data, fa, fb, plugin)
    if has_meta:
        out.metas.append((tag, plugin))
    if kind is not None:
        kind.tag = tag
        out.slots.append(kind)


def _plugin_name(data: bytes, a: int, b: int, plugin: str) -> str:
    """SummaryMetadata.plugin_data.plugin_name (the last one set wins, as in a merge)."""
    for num, wire, pa, pb in fields(data, a, b):
        if num == 1 and wire == 2:
            for n2, w2, na, nb in fields(data, pa, pb):
                if n2 == 1 and w2 == 2:
                    plugin = data[na:nb].decode("utf-8", "replace")
    return plugin


def _parse_tensor(data: bytes, a: int, b: int) -> Slot | None:
    """A TensorProto holding exactly one number, as tensor_util.make_ndarray reads it."""
    dtype, size, content, typed = 0, 1, None, []
    for num, wire, fa, fb in fields(data, a, b):
        if num == 1 and wire == 0:
            dtype = varint(data, fa)[0]
        elif num == 2 and wire == 2:
            size = _shape_size(data, fa, fb)
        elif num == 4 and wire == 2:
            content = (fa, fb)
        elif num in (5, 6, 7, 10, 13):
            typed.append((num, wire, fa, fb))
    if dtype not in DTYPES or size != 1:
        return None
    np_dtype, typed_field = DTYPES[dtype]
    width = _WIDTH[np_dtype]
    if content is not None and content[1] > content[0]:
        if content[1] - content[0] != width:
            return None
        return Slot("", _unpack(np_dtype, data, content[0]), True, content[0], np_dtype)
    return _typed_value(data, [t for t in typed if t[0] == typed_field], np_dtype, width)


def _typed_value(data: bytes, entries: list, np_dtype: str, width: int) -> Slot | None:
    """The single element of float_val / double_val / int_val / int64_val / half_val."""
    values: list[tuple[float, int | None]] = []
    for _, wire, fa, fb in entries:
        if np_dtype in ("<f4", "<f8") and wire in (1, 5) and fb - fa == width:
            values.append((_unpack(np_dtype, data, fa), fa))
        elif np_dtype in ("<f4", "<f8") and wire == 2:  # packed fixed-width
            values += [(_unpack(np_dtype, data, p), p) for p in range(fa, fb - width + 1, width)]
        elif wire == 0 and np_dtype not in ("<f4", "<f8"):
            values.append((_from_varint(np_dtype, varint(data, fa)[0]), None))
        elif wire == 2 and np_dtype not in ("<f4", "<f8"):  # packed varints
            pos = fa
            while pos < fb:
                v, pos = varint(data, pos)
                values.append((_from_varint(np_dtype, v), None))
    if len(values) != 1:  # make_ndarray cannot shape 0 or 2+ values into one element
        return None
    value, at = values[0]
    return Slot("", value, True, at, np_dtype if at is not None else None)


def _from_varint(np_dtype: str, v: int) -> float:
    """An int_val / int64_val / half_val varint as the element's numeric value."""
    if np_dtype == "<f2":
        return struct.unpack("<e", (v & 0xFFFF).to_bytes(2, "little"))[0]
    if np_dtype == "<i4":
        v &= 0xFFFFFFFF
        return float(v - (1 << 32) if v >= 1 << 31 else v)
    return float(_signed(v))


def _unpack(np_dtype: str, data: bytes, at: int) -> float:
    """One little-endian fixed-width element at `at`."""
    code = {"<f4": "<f", "<f8": "<d", "<i4": "<i", "<i8": "<q", "<f2": "<e"}[np_dtype]
    return float(struct.unpack_from(code, data, at)[0])


def _shape_size(data: bytes, a: int, b: int) -> int:
    """Number of elements of a TensorShapeProto (1 for a scalar; -1 if unknown)."""
    size = 1
    for num, wire, fa, fb in fields(data, a, b):
        if num == 2 and wire == 2:  # dim { size }
            dim = 0
            for dn, dw, da, _ in fields(data, fa, fb):
                if dn == 1 and dw == 0:
                    dim = _signed(varint(data, da)[0])
            size *= dim
        elif num == 3 and wire == 0 and varint(data, fa)[0]:
            return -1
    return size
