"""Format detection from content (the first 64 KB), with the file name as a fallback.

Each check looks at the decoded head and returns a format name or None; the first
answer wins. TensorBoard event files are recognised by their TFRecord framing before
any decoding: 8-byte little-endian length, 4-byte masked CRC, then an Event record whose
first field is `file_version` "brain.Event:2".
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from .csv_logs import TableShape, sniff_table, split_fields
from .text import HEAD_BYTES, decode_head, looks_binary, read_bytes
from .fairseq import sniff_fairseq
from .megatron import sniff_megatron
from .steplog import sniff_step_log
from .wandb import is_wandb_log, sniff_wandb_history
from .wandb_csv import sniff_wandb_csv

_MLFLOW_LINE = re.compile(r"^\d{9,}\s+\S+(\s+[-+]?\d+)?\s*$")
_DICT_OF_LISTS = re.compile(r'^\{\s*"[^"]*"\s*:\s*\[')
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(nan|inf|infinity)$", re.IGNORECASE)

# Known file names, used only when the content does not decide (checked in order).
NAME_HINTS = (
    ("trainer_state.json", "hf_trainer_state"),
    ("tfevents", "tensorboard"),
    (".wandb", "wandb"),
    (".jsonl", "jsonl"),
    (".csv", "csv"),
    (".tsv", "csv"),
)


def is_tfevents(head: bytes) -> bool:
    """True when the bytes start with a TFRecord holding an Event with a file_version."""
    if len(head) < 12:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 0 < length < (1 << 24) and b"brain.Event:" in head[12 : 12 + length]


def sniff(path: Path) -> str | None:
    """The format of one file, or None when unrecognised; InputError when unreadable."""
    head = read_bytes(path, HEAD_BYTES)
    if not head:
        raise InputError(path, "empty file")
    if is_tfevents(head):
        return "tensorboard"
    if is_wandb_log(head):
        return "wandb"
    if looks_binary(head):
        raise InputError(path, "not a text log (binary content)")
    text = decode_head(head)
    if len(head) == HEAD_BYTES:
        text = text.rsplit("\n", 1)[0]  # the last line may be cut
    for check in CONTENT_CHECKS:
        found = check(text, path)
        if found:
            return found
    name = path.name.lower()
    return next((fmt for hint, fmt in NAME_HINTS if hint in name), None)


def _json_kind(text: str, path: Path) -> str | None:
    """jsonl, json_records or hf_trainer_state, judged from the first lines."""
    body = text.lstrip()
    if body.startswith("["):
        return "json_records"
    if not body.startswith("{"):
        return None
    lines = [line for line in body.split("\n", 40)[:40] if line.strip()]
    if path.name.lower() == "trainer_state.json":
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
    if '"log_history"' in body or path.name.lower().endswith("trainer_state.json"):
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


def _mlflow_kind(text: str, path: Path) -> str | None:
    """MLflow metric file: headerless 'timestamp_ms value step' lines."""
    lines = [line for line in text.split("\n", 10)[:10] if line.strip()]
    return "mlflow" if lines and all(_MLFLOW_LINE.match(line) for line in lines) else None


def _table_kind(text: str, path: Path) -> str | None:
    """A CSV-like table with a header: which tool wrote it, by its column names."""
    shape = sniff_table(text)
    if shape is None or not _is_table(shape, path):
        return None
    names = set(shape.names)
    for fmt, is_kind in CSV_FLAVOURS:
        if is_kind(names):
            return fmt
    return "csv"


def _is_table(shape: TableShape, path: Path) -> bool:
    """A header of names above rows holding numbers (or a header-only file named .csv)."""
    if not shape.names or all(_NUMBER.match(n) for n in shape.names if n):
        return False
    if not shape.data_lines:
        return path.suffix.lower() in (".csv", ".tsv")  # so that "header only" is reported
    return any(_NUMBER.match(f) for f in split_fields(shape.data_lines[0], shape.sep))


CSV_FLAVOURS: tuple[tuple[str, Callable[[set[str]], bool]], ...] = (
    ("ultralytics_csv", lambda n: "train/box_loss" in n or any(x.startswith("metrics/mAP") for x in n)),
    ("lightning_csv", lambda n: {"epoch", "step"} <= n),
    ("keras_csv", lambda n: "loss" in n or "val_loss" in n),
)

CONTENT_CHECKS: tuple[Callable[[str, Path], str | None], ...] = (
    sniff_wandb_history, sniff_fairseq, _json_kind, _mlflow_kind, sniff_megatron, sniff_step_log, sniff_wandb_csv, _table_kind)
