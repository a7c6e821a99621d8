"""The Python API: `import lossdoctor` and what it lists in __all__."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lossdoctor

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_every_public_name_resolves_and_nothing_else_is_listed() -> None:
    for name in lossdoctor.__all__:
        assert getattr(lossdoctor, name) is not None
    with pytest.raises(AttributeError):
        lossdoctor.engine_internals  # noqa: B018


def test_import_lossdoctor_loads_neither_numpy_nor_the_engine() -> None:
    probe = "import sys, lossdoctor; print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pandas') or m.startswith('lossdoctor.')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_diagnose_a_path_gives_the_same_record_as_the_command_line() -> None:
    diag = lossdoctor.diagnose(EXAMPLES / "diverged")
    assert isinstance(diag, lossdoctor.Diagnosis) and diag.verdict == "error"
    assert "divergence" in {f.rule for f in diag.findings}
    cli = subprocess.run([sys.executable, "-m", "lossdoctor", "diagnose", str(EXAMPLES / "diverged"),
                          "--format", "json"], capture_output=True, text=True)
    doc = json.loads(cli.stdout)
    runs = doc["runs"] if "runs" in doc else [doc]
    assert [f["rule"] for f in runs[0]["findings"]] == [f["rule"] for f in diag.to_dict()["findings"]]


def test_diagnose_is_callable_whichever_import_came_first() -> None:
    import lossdoctor.diagnose as module

    assert module.Settings is lossdoctor.Settings
    assert lossdoctor.diagnose(EXAMPLES / "healthy").verdict in ("ok", "info")


def test_a_path_with_several_runs_raises_many_runs_naming_them() -> None:
    with pytest.raises(lossdoctor.ManyRuns) as caught:
        lossdoctor.diagnose(EXAMPLES)
    assert "diverged" in str(caught.value) and len(caught.value.runs) == 4
    every = lossdoctor.diagnose_all(EXAMPLES)
    assert [d.name for d in every] == caught.value.runs


def test_unreadable_input_raises_a_typed_error_but_diagnose_all_records_it(tmp_path: Path) -> None:
    bad = tmp_path / "metrics.csv"
    bad.write_text("")
    with pytest.raises(lossdoctor.InputError):
        lossdoctor.diagnose(bad)
    (only,) = lossdoctor.diagnose_all(bad)
    assert only.error is not None and only.verdict == "unreadable"


def test_read_returns_one_run_per_run_found() -> None:
    runs = lossdoctor.read(EXAMPLES)
    assert len(runs) == 4 and all(isinstance(r, lossdoctor.Run) and r.series for r in runs)


def _falling(n: int = 60) -> np.ndarray:
    return 2.0 * np.exp(-np.arange(n) / 15.0) + 0.1


def test_from_frame_keeps_nan_and_takes_the_step_column() -> None:
    loss = _falling()
    loss[40:] = np.nan
    frame = pd.DataFrame({"step": np.arange(60) * 10, "loss": loss, "note": ["x"] * 60})
    run = lossdoctor.Run.from_frame(frame)
    assert set(run.series) == {"loss"} and run.series["loss"].steps[-1] == 590
    diag = lossdoctor.diagnose(run)
    nan = [f for f in diag.findings if f.rule == "nan_loss"]
    assert nan and nan[0].step == 400


def test_from_frame_uses_the_index_and_nullable_na_means_not_logged() -> None:
    val = pd.array([None] * 60, dtype="Float64")
    val[9::10] = _falling(6) * 1.1
    frame = pd.DataFrame({"train_loss": _falling(), "val_loss": val}, index=np.arange(60) + 100)
    run = lossdoctor.Run.from_frame(frame)
    assert run.series["train_loss"].steps[0] == 100 and len(run.series["val_loss"]) == 6
    assert lossdoctor.diagnose(frame).verdict in ("ok", "info")  # a frame is diagnosed directly


def test_from_frame_reads_a_sparse_frame_as_sparse() -> None:
    """A W&B-style history, or pd.read_csv of a Lightning metrics.csv: NaN fills the rows a
    metric was not logged on. NaN cells between logged values are rows not logged (the notes
    say so), not a NaN loss; missing="na" still counts them as NaN values."""
    val = np.full(60, np.nan)
    val[9::10] = _falling(6) * 1.1
    frame = pd.DataFrame({"step": np.arange(60), "loss": _falling(), "val_loss": val})
    run = lossdoctor.Run.from_frame(frame)
    assert len(run.series["val_loss"]) == 6 and len(run.series["loss"]) == 60
    assert any("val_loss" in n and "not logged" in n for n in run.notes)
    assert "nan_loss" not in {f.rule for f in lossdoctor.diagnose(frame).findings}
    dense = lossdoctor.Run.from_frame(frame, missing="na")
    assert len(dense.series["val_loss"]) == 60
    assert "nan_loss" in {f.rule for f in lossdoctor.diagnose(dense).findings}
    assert len(lossdoctor.Run.from_frame(frame, missing="nan").series["val_loss"]) == 6


def test_from_frame_a_column_never_logged_in_a_sparse_frame_is_not_a_nan_loss() -> None:
    """A W&B history with a test loss column that no evaluation filled: in a sparse frame it
    was never logged; alone in a dense frame, a loss NaN from its first row is one."""
    val = np.full(60, np.nan)
    val[9::10] = _falling(6) * 1.1
    frame = pd.DataFrame({"step": np.arange(60), "loss": _falling(), "val_loss": val, "test_loss": np.nan})
    run = lossdoctor.Run.from_frame(frame)
    assert "test_loss" not in run.series and any("never logged: test_loss" in n for n in run.notes)
    dense = pd.DataFrame({"step": np.arange(60), "loss": np.nan})
    assert len(lossdoctor.Run.from_frame(dense).series["loss"]) == 60


def test_from_frame_a_sparse_object_column_drops_its_text_nan_too() -> None:
    """An object column (text cells) whose "nan" cells sit between logged values is read as
    sparse, as its note says: its text "nan" are not logged either, so no NaN loss."""
    frame = pd.DataFrame({"loss": ["1.0", "nan", "0.5"] * 10})
    run = lossdoctor.Run.from_frame(frame)
    assert len(run.series["loss"]) == 20 and any("loss" in n for n in run.notes)
    assert "nan_loss" not in {f.rule for f in lossdoctor.diagnose(frame).findings}


def test_from_frame_duplicate_column_names_are_a_clear_error() -> None:
    frame = pd.DataFrame(np.random.default_rng(0).random((20, 2)), columns=["loss", "loss"])
    with pytest.raises(lossdoctor.InputError, match="more than one column named loss"):
        lossdoctor.diagnose(frame)


def test_from_frame_an_axis_of_dates_numbers_the_rows() -> None:
    """A frame indexed by wall-clock time (or with a `step` column of dates): the rows, in
    order, are the steps, and the notes say so (it was a TypeError)."""
    loss = _falling(30)
    for frame in (pd.DataFrame({"loss": loss}, index=pd.date_range("2024-01-01", periods=30)),
                  pd.DataFrame({"step": pd.date_range("2024-01-01", periods=30), "loss": loss})):
        run = lossdoctor.Run.from_frame(frame)
        assert list(run.series["loss"].steps[:3]) == [0.0, 1.0, 2.0]
        assert any("is not a number" in n for n in run.notes)
        assert lossdoctor.diagnose(frame).verdict in ("ok", "info")


def test_from_frame_reads_a_wandb_history_on_its_step() -> None:
    """`run.history()` of W&B: `_step` is the step, `_runtime` and `_timestamp` are W&B's own
    keys, not metrics; NaN fills the rows a metric was not logged on."""
    val = np.full(60, np.nan)
    val[9::10] = _falling(6) * 1.1
    frame = pd.DataFrame({"_step": np.arange(60) * 10 + 1000, "_runtime": np.arange(60) * 0.5,
                          "_timestamp": 1.7e9 + np.arange(60), "train/loss": _falling(), "val/loss": val})
    run = lossdoctor.Run.from_frame(frame)
    assert set(run.series) == {"train/loss", "val/loss"}
    assert run.series["train/loss"].steps[0] == 1000 and len(run.series["val/loss"]) == 6
    assert "nan_loss" not in {f.rule for f in lossdoctor.diagnose(frame).findings}


def test_a_config_file_changes_what_the_api_judges(tmp_path: Path) -> None:
    cfg = tmp_path / "lossdoctor.yaml"
    cfg.write_text("ignore: [divergence]\n")
    diag = lossdoctor.diagnose(EXAMPLES / "diverged", config=cfg)
    assert "divergence" not in {f.rule for f in diag.findings}
