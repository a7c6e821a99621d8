"""The hyper-parameters a trainer writes beside its log: Lightning's `hparams.yaml` (next to
`metrics.csv`, and in a TensorBoard logger's version folder), Ultralytics' `args.yaml` (next
to `results.csv`). Only top-level numbers are kept: they name the learning rate the user
configured, which a report should quote instead of a decayed value at some step."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError
from ..safeyaml import load_yaml

NAMES = ("hparams.yaml", "args.yaml")
MAX_BYTES = 1 << 20  # a hyper-parameter file is a few KB; a bigger one is not read


def hparams_beside(log: str | Path) -> dict[str, float]:
    """The numeric top-level entries of the first hyper-parameter file in the log's folder
    (the folder itself for a run folder); {} when there is none or it cannot be read."""
    base = Path(log)
    try:
        folder = base if base.is_dir() else base.parent
    except OSError:
        return {}
    for name in NAMES:
        path = folder / name
        try:
            if not path.is_file() or os.path.getsize(path) > MAX_BYTES:
                continue
            doc = load_yaml(path)
        except (OSError, ConfigError):
            continue  # a broken side file costs the quoted rate, never the diagnosis
        if isinstance(doc, dict):
            return {str(k): x for k, v in doc.items() if (x := _number(v)) is not None}
    return {}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond a float's range is no learning rate
        return None
