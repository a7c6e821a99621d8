"""Every real log of the corpus is read, to the format MANIFEST.yaml gives, with its metrics."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lossdoctor.sources import detect_format, read_run
from lossdoctor.sources.columns import is_counter
from lossdoctor.sources.hf_trainer import SUMMARY_KEYS

CORPUS = Path(__file__).parent / "data" / "corpus"
RUNS = CORPUS / "runs"
MANIFEST = yaml.safe_load((CORPUS / "MANIFEST.yaml").read_text(encoding="utf-8"))["files"]

# MANIFEST format -> Run.format
FORMATS = {
    "keras_csv": "keras_csv",
    "lightning_csv": "lightning_csv",
    "ultralytics_results_csv": "ultralytics_csv",
    "plain_csv": "csv",
    "detectron2_metrics_jsonl": "jsonl",
    "mae_log_txt_jsonl": "jsonl",
    "mmengine_scalars_jsonl": "jsonl",
    "hf_trainer_state": "hf_trainer_state",
    "mlflow_metric_file": "mlflow",
    "tfevents_pytorch": "tensorboard",
    "tfevents_tf2": "tensorboard",
}
# Not series by design: progress counters, pandas' unnamed index, HF's end-of-run summary.
NOT_SERIES = {"<unnamed index>", "train_loss"} | SUMMARY_KEYS
# Columns that hold 'NA' in every row (Keras' CSVLogger for keys never logged) are absent.
NEVER_LOGGED = {"keras_csv/gru_denoiser_NA_val_training_history.csv": {"val_accuracy", "val_loss", "val_mae"}}
HAS_TENSORBOARD = importlib.util.find_spec("lossdoctor.sources.tensorboard") is not None


def corpus_path(manifest_file: str) -> Path:
    """runs/<format>-<stem>/<file>; MLflow keeps its run layout below the run folder."""
    kind, *rest = manifest_file.split("/")
    if len(rest) > 1:
        return RUNS / f"{kind}-{rest[0]}" / "/".join(rest[1:])
    (found,) = RUNS.glob(f"*/{rest[0]}")
    return found


def run_folder(path: Path) -> Path:
    """The corpus run folder holding a file."""
    return next(p for p in path.parents if p.parent == RUNS)


def _skip_tensorboard(fmt: str) -> None:
    if fmt == "tensorboard" and not HAS_TENSORBOARD:
        pytest.skip("lossdoctor.sources.tensorboard not written yet")


def expected_series(entry: dict) -> set[str]:
    """The MANIFEST's metric names that must become series."""
    names = {m.strip() for m in entry["metrics"] if not is_counter(m)}
    return names - NOT_SERIES - NEVER_LOGGED.get(entry["file"], set())


ENTRIES = [pytest.param(e, id=e["file"]) for e in MANIFEST]


def test_manifest_covers_every_file() -> None:
    assert len(MANIFEST) == 60
    on_disk = {p for p in RUNS.rglob("*") if p.is_file() and "params" not in p.parts and p.name != "meta.yaml"}
    assert on_disk == {corpus_path(e["file"]) for e in MANIFEST}


@pytest.mark.parametrize("entry", ENTRIES)
def test_file_is_detected_and_read(entry: dict) -> None:
    path, fmt = corpus_path(entry["file"]), FORMATS[entry["format"]]
    assert detect_format(path) == fmt
    _skip_tensorboard(fmt)
    run = read_run(path)
    assert run.format == fmt
    wanted = expected_series(entry)
    assert wanted <= set(run.series), sorted(wanted - set(run.series))


@pytest.mark.parametrize("folder", sorted({run_folder(corpus_path(e["file"])) for e in MANIFEST}), ids=lambda p: p.name)
def test_run_folder_is_read(folder: Path) -> None:
    entries = [e for e in MANIFEST if run_folder(corpus_path(e["file"])) == folder]
    fmt = FORMATS[entries[0]["format"]]
    assert detect_format(folder) == fmt
    _skip_tensorboard(fmt)
    run = read_run(folder)
    assert run.format == fmt
    for entry in entries:
        assert expected_series(entry) <= set(run.series)
    assert all(len(s) for s in run.series.values())


def test_csv_reading_never_imports_tensorboard() -> None:
    code = (
        "import sys; from lossdoctor.sources import read_run;"
        f"read_run({str(corpus_path('keras_csv/tomato_leaf_cnn_training_log.csv'))!r});"
        "bad = [m for m in ('tensorboard', 'google.protobuf') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
