"""What a file's first 64 KB say about it: the content facts each format's check reads.

`Head` reads the bytes once and works out, only when asked, the facts the format table's
checks need (is it a TensorBoard record, which kind of JSON, which table header). Each
check in `formats.FORMATS` is a one-line question to a Head, so a file is decoded and
parsed at most once however many formats are tried. TensorBoard event files are known by
their TFRecord framing before any decoding: 8-byte little-endian length, 4-byte masked
CRC, then an Event whose first field is `file_version` "brain.Event:2".
"""

from __future__ import annotations

import json
import re
import struct
from functools import cached_property
from pathlib import Path

from .columns import looks_like_metric
from .csv_logs import TableShape, sniff_table, split_fields
from .text import HEAD_BYTES, decode_head, looks_binary

_MLFLOW_LINE = re.compile(r"^\d{9,}\s+\S+(\s+[-+]?\d+)?\s*$")
_DICT_OF_LISTS = re.compile(r'^\{\s*"[^"]*"\s*:\s*\[')
_JSON_KEY = re.compile(r'"([^"\\]{1,200})"\s*:')  # the keys of any JSON text, nested ones included
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(nan|inf|infinity)$", re.IGNORECASE)


def is_tfevents(head: bytes) -> bool:
    """True when the bytes start with a TFRecord holding an Event with a file_version."""
    if len(head) < 12:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 0 < length < (1 << 24) and b"brain.Event:" in head[12 : 12 + length]


class Head:
    """The first bytes of one file and the facts format checks ask of them (each computed once)."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.data = data
        self.name = path.name.lower()

    @cached_property
    def binary(self) -> bool:
        """Not a text log: NUL bytes or many control bytes."""
        return looks_binary(self.data)

    @cached_property
    def text(self) -> str:
        """The decoded head without its last line when the head was cut (that line may be partial)."""
        text = decode_head(self.data)
        return text.rsplit("\n", 1)[0] if len(self.data) == HEAD_BYTES else text

    @cached_property
    def json_kind(self) -> str | None:
        """jsonl, json_records or hf_trainer_state, judged from the first lines; None if not JSON."""
        return _json_kind(self.text, self.name)

    @cached_property
    def mlflow_metric(self) -> bool:
        """Headerless 'timestamp_ms value step' lines: one metric file of an MLflow run."""
        lines = [line for line in self.text.split("\n", 10)[:10] if line.strip()]
        return bool(lines) and all(_MLFLOW_LINE.match(line) for line in lines)

    @cached_property
    def table(self) -> TableShape | None:
        """The header of a text table above rows of numbers, or None."""
        shape = sniff_table(self.text)
        return shape if shape is not None and _is_table(shape, self.name) else None

    @cached_property
    def columns(self) -> frozenset[str]:
        """The table's column names (empty when it is not a table)."""
        return frozenset(self.table.names) if self.table is not None else frozenset()

    @cached_property
    def well_formed(self) -> bool:
        """A table, a JSON document, or JSON lines most of which parse: a data or config file
        when it names no metric, not a broken log."""
        if self.table is not None or self.json_kind in ("json_records", "hf_trainer_state"):
            return True
        lines = [line for line in self.text.split("\n", 40)[:40] if line.strip()]
        return self.json_kind == "jsonl" and 2 * sum(_as_dict(line) is not None for line in lines) > len(lines)

    @cached_property
    def names_metrics(self) -> bool:
        """The table's header or the first JSON record's keys name a metric (loss, acc, lr ...).

        A data set's CSV or a config's JSON has numbers too; only a training log has metrics.
        """
        if self.table is not None:
            return any(looks_like_metric(n) for n in self.table.names)
        return any(looks_like_metric(k) for k in _JSON_KEY.findall(self.text))


def _json_kind(text: str, name: str) -> str | None:
    body = text.lstrip()
    if body.startswith("["):
        return "json_records"
    if not body.startswith("{"):
        return None
    lines = [line for line in body.split("\n", 40)[:40] if line.strip()]
    if name == "trainer_state.json":
        # By name too, so a state without log_history says so. Only JSON lines under that
        # name make it jsonl, so the whole document on line one need not be parsed here.
        if any(_as_dict(line) is not None for line in lines[1:]) and _as_dict(lines[0]) is None:
            return "jsonl"
        return "hf_trainer_state"
    first = _as_dict(lines[0])
    if first is not None and "log_history" in first:
        return "hf_trainer_state"
    if first is not None and len(lines) == 1 and first and all(isinstance(v, list) for v in first.values()):
        return "json_records"
    if first is not None or any(_as_dict(line) is not None for line in lines[1:]):
        return "jsonl"
    if '"log_history"' in body or name.endswith("trainer_state.json"):
        return "hf_trainer_state"
    return "json_records" if _DICT_OF_LISTS.match(body) else None


def _as_dict(line: str) -> dict | None:
    """The line as a JSON object, or None."""
    text = line.strip()
    if text[:1] != "{" or text[-1:] != "}":
        return None  # not an object: spare json.loads (and its exception)
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _is_table(shape: TableShape, name: str) -> bool:
    """A header of names above rows holding numbers (or a header-only file named .csv)."""
    if not shape.names or all(_NUMBER.match(n) for n in shape.names if n):
        return False
    if not shape.data_lines:
        return name.endswith((".csv", ".tsv"))  # so that "header only" is reported
    return any(_NUMBER.match(f) for f in split_fields(shape.data_lines[0], shape.sep))
