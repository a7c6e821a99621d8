"""The null-model check (benchmarks/null_runs.py): healthy curves made of noise, read as the
sparse frames users pass to `lossdoctor.diagnose(df)`, raise no warning. One seed of the
families that are quiet today, as a ratchet (the benchmark runs them all)."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

import lossdoctor

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("null_runs", ROOT / "benchmarks" / "null_runs.py")
null = importlib.util.module_from_spec(SPEC)
sys.modules["null_runs"] = null
SPEC.loader.exec_module(null)  # type: ignore[union-attr]


def test_healthy_noise_raises_no_warning() -> None:
    runs = list(itertools.chain(null.per_step(0), null.converged(0), null.shapes(0)))
    assert len(runs) == 30  # 18 per step, 4 converged, 8 shapes
    loud = [(name, f.rule) for _, name, frame in runs for f in lossdoctor.diagnose(frame).findings
            if f.severity.name.lower() in ("warning", "error")]
    assert loud == []


def test_a_sparse_frame_is_not_read_as_nan() -> None:
    """The per-step frames hold val_loss on one row in 100, NaN elsewhere (W&B's history):
    read as logged values, they would be a NaN validation loss from the first row."""
    _, _, frame = next(null.per_step(0))
    assert frame["val_loss"].isna().mean() > 0.9
    assert "nan_loss" not in {f.rule for f in lossdoctor.diagnose(frame).findings}
    dense = lossdoctor.Run.from_frame(frame, missing="na")
    assert "nan_loss" in {f.rule for f in lossdoctor.diagnose(dense).findings}
