"""Parsers: one per log format, each turning a file (or run folder) into a `Run`.

The registry is a plain dict from format name to reader. `read_run` is the one entry
point the rest of lossdoctor uses: it accepts a file or a run folder, detects the
format from the content, and raises `InputError` (naming the file) when it cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from ..errors import InputError
from ..frame import Run
from .csv_logs import read_csv
from .fairseq import read_fairseq
from .folder import plan_folder, read_folder
from .hf_trainer import read_hf_trainer_state
from .jsonl import read_json_records, read_jsonl
from .megatron import read_megatron
from .mlflow import read_mlflow
from .mlflow_db import read_mlflow_db, split_ref
from .sniff import sniff
from .steplog import read_step_log
from .wandb import read_wandb, read_wandb_history, read_wandb_summary
from .wandb_csv import read_wandb_csv


def _read_tensorboard(path: Path, verify: bool = False, wanted: Callable[[str], bool] | None = None) -> Run:
    """Import the TensorBoard reader only when used: CSV users never load protobuf."""
    from .tensorboard import read_tensorboard

    return read_tensorboard(path, verify, wanted)


READERS: dict[str, Callable[[Path], Run]] = {
    "keras_csv": partial(read_csv, fmt="keras_csv"),
    "lightning_csv": partial(read_csv, fmt="lightning_csv"),
    "ultralytics_csv": partial(read_csv, fmt="ultralytics_csv"),
    "csv": partial(read_csv, fmt="csv"),
    "jsonl": read_jsonl,
    "json_records": read_json_records,
    "hf_trainer_state": read_hf_trainer_state,
    "mlflow": read_mlflow,  # one metric file, or a whole run folder
    "tensorboard": _read_tensorboard,  # one event file, or a folder of them
    "wandb": read_wandb,  # run-<id>.wandb, or its run folder
    "wandb_history": read_wandb_history,
    "wandb_summary": read_wandb_summary,
    "wandb_csv": read_wandb_csv,  # a chart's "Download CSV"
    "megatron_log": read_megatron,
    "step_log": read_step_log,  # nanoGPT / torchtitan step lines
    "fairseq_log": read_fairseq,
}


def detect_format(path: Path) -> str | None:
    """The format of a file (sniffed from its first 64 KB, then its name) or of a run folder.

    Returns None when unrecognised or unreadable; `read_run` says why.
    """
    path = Path(path)
    try:
        if path.is_dir():
            choice = plan_folder(path, sniff).choice()
            return choice[0][0] if choice else None
        return sniff(path)
    except (InputError, OSError):
        return None


def read_run(path: str | Path, verify: bool = False, wanted: Callable[[str], bool] | None = None) -> Run:
    """Read one run from a log file, a run folder or `mlflow.db#<run_uuid>`; raises
    InputError when it cannot. `verify` checks every TensorBoard record's data checksum.
    `wanted(name)`: the series the caller needs; readers of big binary logs (TensorBoard,
    W&B) decode only those and count the rest (default: every series)."""
    db_run = split_ref(path)
    if db_run is not None:  # one run of an MLflow SQLite store
        return read_mlflow_db(*db_run)
    path = Path(path)
    readers = READERS
    if verify or wanted is not None:
        readers = {**READERS, "tensorboard": partial(_read_tensorboard, verify=verify, wanted=wanted),
                   "wandb": partial(read_wandb, verify=verify, wanted=wanted)}
    if path.is_dir():
        return read_folder(path, readers, sniff)
    if not path.exists() and not path.is_symlink():
        raise InputError(path, "no such file or directory")
    fmt = sniff(path)
    if fmt is None:
        raise InputError(path, "unrecognised log format")
    return readers[fmt](path)
