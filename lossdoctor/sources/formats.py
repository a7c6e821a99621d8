"""The log formats lossdoctor reads: one table, used by `diagnose`, `audit` and every folder rule.

Each entry says how to read the format; how to recognise one of its files from content
(and, when the content does not decide, from the file's name); where in a folder the log
is that makes the folder one run of that format (`find_in`: `metrics.csv`, the newest
`checkpoint-N/trainer_state.json`, an MLflow `meta.yaml` + `metrics/`, event files); and
its rank among several logs of one run (the lowest is read, the others are noted): an HF
output dir's `runs/` events, or Lightning's TensorBoard and CSV loggers writing into one
`version_N/`, are the same run as the log preferred over them.

Adding a format is one entry here and one reader module. Readers are imported when they
are first used, so a CSV diagnosis never loads the TensorBoard decoder.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..frame import Run
from .listing import Listing, try_list
from .sniff import Head, is_tfevents
from .text import HEAD_BYTES, read_bytes


@dataclass(frozen=True)
class ReadOptions:
    """What a reader may be asked besides the path."""

    verify: bool = False  # check every TensorBoard record's data checksum (~0.3 s per 1M points)
    # The series the caller needs (by name); readers of big binary logs (TensorBoard, W&B)
    # decode only those and count the rest. None: every series.
    wanted: Callable[[str], bool] | None = None


Reader = Callable[[Path, ReadOptions], Run]
Finder = Callable[[Listing], "str | None"]


@dataclass(frozen=True)
class LogFormat:
    """One log format: its reader, its content check, and its place in a run folder."""

    name: str
    read: Reader
    detect: Callable[[Head], bool]
    writer: str | None = None  # the tool that writes it, when the format says
    binary: bool = False  # detected on the raw bytes, before text is decoded
    names: tuple[str, ...] = ()  # file-name patterns (lower case), used when the content does not decide
    find_in: Finder | None = None  # where its log is in a folder that is one run of this format
    rank: int = 99  # among a run folder's logs, the lowest rank is read
    layout: str = "log_file"  # what discovery calls a run folder of this format
    # The content says only "a table" or "JSON": met in a walk, such a file is a training log
    # only when its header or first record names a metric (a data set's CSV is not).
    generic: bool = False
    # A file that holds many runs (an MLflow SQLite store): its runs as (reference, name) pairs,
    # and how many were left out (deleted); each reference is a path `read` accepts.
    runs_in: Callable[[Path], "tuple[list[tuple[str, str]], int]"] | None = None
    # The files its reader opens when `find_in` found its log at `where` (None: the log file
    # itself). A run in an object store is read from a local copy of exactly these files.
    reads: Callable[[Listing, str], list[str]] | None = None


# --- readers (imported on first use) ------------------------------------------------------

def _csv(fmt: str) -> Reader:
    def read(path: Path, opts: ReadOptions) -> Run:
        from .csv_logs import read_csv
        return read_csv(path, fmt=fmt)
    return read


def _jsonl(path: Path, opts: ReadOptions) -> Run:
    from .jsonl import read_jsonl
    return read_jsonl(path)


def _json_records(path: Path, opts: ReadOptions) -> Run:
    from .jsonl import read_json_records
    return read_json_records(path)


def _hf(path: Path, opts: ReadOptions) -> Run:
    from .hf_trainer import read_hf_trainer_state
    return read_hf_trainer_state(path)


def _mlflow(path: Path, opts: ReadOptions) -> Run:
    from .mlflow import read_mlflow
    return read_mlflow(path)


def _mlflow_db(ref: Path, opts: ReadOptions) -> Run:
    from .mlflow_db import read_ref
    return read_ref(ref)


def _mlflow_db_runs(db: Path) -> tuple[list[tuple[str, str]], int]:
    from .mlflow_db import named_runs
    return named_runs(db)


def _tensorboard(path: Path, opts: ReadOptions) -> Run:
    from .tensorboard import read_tensorboard  # protobuf-free, but still the biggest reader
    return read_tensorboard(path, opts.verify, opts.wanted)


def _wandb(path: Path, opts: ReadOptions) -> Run:
    from .wandb import read_wandb
    return read_wandb(path, opts.verify, opts.wanted)


def _plain(module: str, name: str) -> Reader:
    """A reader that takes only the path, imported from `module` when first used."""
    def read(path: Path, opts: ReadOptions) -> Run:
        import importlib
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)(path)
    return read


def _text_sniff(module: str, name: str, fmt: str) -> Callable[[Head], bool]:
    """A format's own text check (`sniff_x(text, path) -> format | None`), imported when first asked."""
    def detect(h: Head) -> bool:
        import importlib
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)(h.text, h.path) == fmt
    return detect


def _wandb_bytes(h: Head) -> bool:
    from .wandb_log import is_wandb_log
    return is_wandb_log(h.data)


# --- where a run folder's log is ------------------------------------------------------------

_CHECKPOINT = re.compile(r"checkpoint-(\d+)")
SPLIT_DIRS = ("train", "validation", "val", "eval")  # Keras' and TF's TensorBoard sub-writers


def _named(name: str) -> Finder:
    return lambda d: d.sub(name) if name in d.files else None


def _trainer_state(d: Listing) -> str | None:
    """trainer_state.json here, else the one in the checkpoint-N/ with the largest N (the newest)."""
    if "trainer_state.json" in d.files:
        return d.sub("trainer_state.json")
    numbered = [(int(m.group(1)), n) for n in d.dirs if (m := _CHECKPOINT.fullmatch(n))]
    for _, name in sorted(numbered, reverse=True):
        state = d.tree.join(d.sub(name), "trainer_state.json")
        if d.tree.kind(state) == "file":
            return state
    return None


def _mlflow_run(d: Listing) -> str | None:
    return d.path if "meta.yaml" in d.files and "metrics" in d.dirs else None


def _mmengine_scalars(d: Listing) -> str | None:
    """MMEngine's run folder (`work_dirs/<cfg>/<timestamp>/`): its `vis_data/scalars.json`."""
    path = d.tree.join(d.sub("vis_data"), "scalars.json")
    return path if "vis_data" in d.dirs and d.tree.kind(path) == "file" else None


def _wandb_run(d: Listing) -> str | None:
    """A W&B run folder (`wandb/run-<date>-<id>/`): its `run-<id>.wandb`, or the legacy
    `wandb-history.jsonl` (read from the folder)."""
    if any(n.endswith(".wandb") for n in d.files) or "wandb-history.jsonl" in d.files:
        return d.path
    legacy = d.tree.join(d.sub("files"), "wandb-history.jsonl")
    return d.path if "files" in d.dirs and d.tree.kind(legacy) == "file" else None


def _wandb_files(d: Listing, where: str) -> list[str]:
    """The run's .wandb file(s) and its history and summary (here or in files/)."""
    keep = ("wandb-history.jsonl", "wandb-summary.json")
    return [f for f in d.tree.files_below(where)
            if (name := re.split(r"[/\\]", f)[-1]).endswith(".wandb") or name in keep]


def _wandb_summary(d: Listing) -> str | None:
    """`files/wandb-summary.json`: the last value of each key, read only when nothing else is there."""
    for path in (d.sub("wandb-summary.json"), d.tree.join(d.sub("files"), "wandb-summary.json")):
        if d.tree.kind(path) == "file":
            return path
    return None


def _has_events(d: Listing) -> bool:
    return any("tfevents" in n for n in d.files)


def _event_folder(d: Listing) -> str | None:
    """Event files here, or in train/ + validation/ sub-writers (Keras, TF): the folder is the run.

    A sub-folder counts as a sub-writer only when event files are all it has a log of: an
    Ultralytics project's `runs/detect/train/` is a run of its own (results.csv), not a split.
    """
    if _has_events(d):
        return d.path
    for name in SPLIT_DIRS:
        sub = try_list(d.sub(name), d.tree) if name in d.dirs else None
        if sub is not None and _has_events(sub) and not any(
                f.find_in(sub) for f in FORMATS if f.find_in is not None and f.name != "tensorboard"):
            return d.path
    return None


def _event_files(d: Listing, where: str) -> list[str]:
    """Every event file below the run folder (the reader walks it whole)."""
    return [f for f in d.tree.files_below(where) if "tfevents" in f.rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1]]


def _mlflow_files(d: Listing, where: str) -> list[str]:
    """meta.yaml (what makes the folder a run) and every metric file below metrics/."""
    return [d.tree.join(where, "meta.yaml"), *d.tree.files_below(d.tree.join(where, "metrics"))]


# --- the table --------------------------------------------------------------------------

_ULTRALYTICS_COLUMNS = ("train/box_loss",)
FORMATS: tuple[LogFormat, ...] = (
    LogFormat("tensorboard", _tensorboard, lambda h: is_tfevents(h.data), binary=True,
              names=("*tfevents*",), find_in=_event_folder, rank=6, layout="tensorboard", reads=_event_files),
    LogFormat("wandb", _wandb, _wandb_bytes, writer="wandb", binary=True, names=("*.wandb",),
              find_in=_wandb_run, rank=5, layout="wandb", reads=_wandb_files),
    LogFormat("wandb_history", _plain("wandb", "read_wandb_history"),
              _text_sniff("wandb", "sniff_wandb_history", "wandb_history"), writer="wandb"),
    LogFormat("wandb_summary", _plain("wandb", "read_wandb_summary"),
              _text_sniff("wandb", "sniff_wandb_history", "wandb_summary"), writer="wandb",
              find_in=_wandb_summary, rank=98, layout="wandb"),
    LogFormat("fairseq_log", _plain("fairseq", "read_fairseq"), _text_sniff("fairseq", "sniff_fairseq", "fairseq_log"),
              writer="fairseq"),
    LogFormat("hf_trainer_state", _hf, lambda h: h.json_kind == "hf_trainer_state", writer="hf_trainer",
              names=("trainer_state.json",), find_in=_trainer_state, rank=1, layout="hf_trainer"),
    LogFormat("jsonl", _jsonl, lambda h: h.json_kind == "jsonl", names=("*.jsonl",), generic=True,
              find_in=_mmengine_scalars, rank=4, layout="mmengine"),
    LogFormat("json_records", _json_records, lambda h: h.json_kind == "json_records", generic=True),
    LogFormat("mlflow", _mlflow, lambda h: h.mlflow_metric, writer="mlflow",
              find_in=_mlflow_run, rank=4, layout="mlflow", reads=_mlflow_files),
    LogFormat("megatron_log", _plain("megatron", "read_megatron"),
              _text_sniff("megatron", "sniff_megatron", "megatron_log"), writer="megatron", names=("*.out",)),
    LogFormat("step_log", _plain("steplog", "read_step_log"), _text_sniff("steplog", "sniff_step_log", "step_log")),
    LogFormat("wandb_csv", _plain("wandb_csv", "read_wandb_csv"),
              _text_sniff("wandb_csv", "sniff_wandb_csv", "wandb_csv"), writer="wandb"),
    LogFormat("ultralytics_csv", _csv("ultralytics_csv"), writer="ultralytics",
              detect=lambda h: "train/box_loss" in h.columns or any(c.startswith("metrics/mAP") for c in h.columns),
              find_in=_named("results.csv"), rank=3, layout="ultralytics"),
    LogFormat("lightning_csv", _csv("lightning_csv"), lambda h: {"epoch", "step"} <= h.columns,
              writer="lightning", find_in=_named("metrics.csv"), rank=2, layout="lightning"),
    LogFormat("keras_csv", _csv("keras_csv"), lambda h: "loss" in h.columns or "val_loss" in h.columns,
              writer="keras"),
    LogFormat("csv", _csv("csv"), lambda h: h.table is not None, names=("*.csv", "*.tsv"), generic=True),
    LogFormat("mlflow_db", _mlflow_db, lambda h: h.data.startswith(b"SQLite format 3\x00"), writer="mlflow",
              binary=True, names=("mlflow.db",), runs_in=_mlflow_db_runs, layout="mlflow_db"),
)
BY_NAME: dict[str, LogFormat] = {f.name: f for f in FORMATS}
# Formats whose log makes a folder one run, in the order a run folder's logs are preferred.
RUN_FORMATS: tuple[LogFormat, ...] = tuple(sorted((f for f in FORMATS if f.find_in), key=lambda f: f.rank))
# Where a folder can hold a run's log: named in errors that say none was found.
LOOKED_FOR = ("trainer_state.json (or checkpoint-N/), Lightning metrics.csv, Ultralytics results.csv, "
              "an MLflow run (meta.yaml + metrics/) or mlflow.db, a W&B run (run-*.wandb), TensorBoard "
              "event files, *.csv/*.tsv/*.json/*.jsonl/*.txt/*.log/*.out training logs")


def identify(path: Path | str, data: bytes | None = None) -> tuple[LogFormat | None, Head]:
    """The format of one file by its content, else by its name (None when neither decides).
    `data`: its first HEAD_BYTES when already read (from an object store).

    Raises InputError when the file cannot be read, is empty, or is binary but no binary log.
    """
    head = Head(Path(path), read_bytes(Path(path), HEAD_BYTES) if data is None else data)
    if not head.data:
        raise InputError(path, "empty file")
    for fmt in FORMATS:
        if fmt.binary and fmt.detect(head):
            return fmt, head
    if head.binary:
        raise InputError(path, "not a text log (binary content)")
    for fmt in FORMATS:
        if not fmt.binary and fmt.detect(head):
            return fmt, head
    by_name = next((f for f in FORMATS if any(fnmatch.fnmatchcase(head.name, p) for p in f.names)), None)
    return by_name, head


def sniff(path: Path) -> str | None:
    """The format name of one file, or None when unrecognised; InputError when unreadable."""
    fmt, _ = identify(path)
    return fmt.name if fmt else None
