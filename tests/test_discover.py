"""Discovery on a tree holding every layout, built from real corpus logs in tmp_path."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from conftest import CORPUS
from lossdoctor.sources import discover
from lossdoctor.sources import read_run

KERAS = CORPUS / "keras_csv-tomato_leaf_cnn_training_log" / "tomato_leaf_cnn_training_log.csv"
LIGHTNING = CORPUS / "lightning-mnist_cnn_metrics" / "mnist_cnn_metrics.csv"
HF = CORPUS / "hf_trainer-whisper_small_hi_trainer_state" / "whisper_small_hi_trainer_state.json"
YOLO = CORPUS / "yolo-crater_v8_75ep_results" / "crater_v8_75ep_results.csv"
YOLO_EVENTS = next((CORPUS / "tensorboard-yolo_fire_smoke").iterdir())
DETECTRON = CORPUS / "jsonl-detectron2_pothole_metrics" / "detectron2_pothole_metrics.json"
MLFLOW = CORPUS / "mlflow-artic_run_5371314d"
RUN_ID = "5371314d" + "0" * 24

EXPECTED_RUNS = {
    ("broken/training_log.csv", "log_file"),
    ("hf_out", "hf_trainer"),
    ("keras_tb/20240101-120000", "tensorboard"),
    ("lightning_logs/version_0", "lightning"),
    ("lightning_logs/version_1", "lightning"),
    ("lightning_logs/version_2", "lightning"),
    ("loose/detectron_metrics.json", "log_file"),
    ("loose/history.csv", "log_file"),
    ("mlflow.db#run_a", "mlflow_db"),
    ("mlflow.db#run_b", "mlflow_db"),
    (f"mlruns/1/{RUN_ID}", "mlflow"),
    ("runs/detect/train", "ultralytics"),
    ("runs/detect/train2", "ultralytics"),
    ("tb_run", "tensorboard"),
}
EXPECTED_SKIPS = {
    "not a log (file name)": 4,  # README.md, model.pt, images/plot.png, mlruns/1/meta.yaml
    "not a log (content)": 1,  # loose/config.json
    "symlink loop": 1,
    "symlink leading out of the roots": 1,
    "unreadable folder": 1,
    "deleted MLflow run": 1,
}


def write_events(folder: Path, suffix: str, steps: range, **tags: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(folder), filename_suffix=suffix)
    for s in steps:
        values = [summary_pb2.Summary.Value(tag=t, simple_value=v / (s + 1)) for t, v in tags.items()]
        writer.add_event(event_pb2.Event(step=s, wall_time=1.7e9 + s, summary=summary_pb2.Summary(value=values)))
    writer.close()


def copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def make_mlflow_db(path: Path) -> None:
    """The real MLflow SQL schema's metrics columns (+ runs.lifecycle_stage); a NaN is value 0, is_nan 1."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, lifecycle_stage VARCHAR(20))")
    con.execute("CREATE TABLE metrics (key VARCHAR(250), value FLOAT NOT NULL, timestamp BIGINT, step BIGINT "
                "NOT NULL, is_nan BOOLEAN NOT NULL, run_uuid VARCHAR(32), PRIMARY KEY (key, timestamp, step, "
                "run_uuid, value, is_nan))")
    con.executemany("INSERT INTO runs VALUES (?, ?)", [("run_a", "active"), ("run_b", "active"), ("run_c", "deleted")])
    rows = []
    for run, nan_at in (("run_a", 12), ("run_b", None), ("run_c", None)):
        for s in range(20):
            loss, val = 2.0 / (s + 1), 2.2 / (s + 1)
            rows.append(("loss", 0.0 if s == nan_at else loss, 1000 + s, s, int(s == nan_at), run))
            rows.append(("val_loss", val, 1000 + s, s, 0, run))
    con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()


def build_tree(root: Path) -> Path:
    """Every layout audit knows, plus the things it must skip; returns the locked folder."""
    write_events(root / "tb_run", ".a", range(0, 30), loss=1.0)
    write_events(root / "tb_run", ".b", range(30, 60), loss=1.0)
    write_events(root / "keras_tb" / "20240101-120000" / "train", "", range(40), epoch_loss=1.0)
    write_events(root / "keras_tb" / "20240101-120000" / "validation", "", range(40), epoch_loss=1.2)
    for v in range(3):
        copy(LIGHTNING, root / "lightning_logs" / f"version_{v}" / "metrics.csv")
        (root / "lightning_logs" / f"version_{v}" / "hparams.yaml").write_text("lr: 0.1\n")
    state = json.loads(HF.read_text())
    for step, share in ((500, 3), (200, 2), (1000, 1)):  # 1000 is the newest, not the last by name
        older = {**state, "log_history": state["log_history"][: len(state["log_history"]) // share]}
        dest = root / "hf_out" / f"checkpoint-{step}" / "trainer_state.json"
        dest.parent.mkdir(parents=True)
        dest.write_text(json.dumps(older))
        (dest.parent / "model.safetensors").write_bytes(b"\0" * 16)
    for name in ("train", "train2"):
        copy(YOLO, root / "runs" / "detect" / name / "results.csv")
    copy(YOLO_EVENTS, root / "runs" / "detect" / "train" / YOLO_EVENTS.name)
    shutil.copytree(MLFLOW, root / "mlruns" / "1" / RUN_ID)
    (root / "mlruns" / "1" / "meta.yaml").write_text("experiment_id: '1'\nname: artic\n")
    make_mlflow_db(root / "mlflow.db")
    copy(KERAS, root / "loose" / "history.csv")
    copy(DETECTRON, root / "loose" / "detectron_metrics.json")
    (root / "loose" / "config.json").write_text(json.dumps({"lr": 0.1, "layers": [1, 2]}, indent=2))
    (root / "README.md").write_text("# experiments\n")
    (root / "model.pt").write_bytes(b"\x80\x02\0\0")
    (root / "images").mkdir()
    (root / "images" / "plot.png").write_bytes(b"\x89PNG\r\n")
    (root / "loop").mkdir()
    os.symlink(root, root / "loop" / "again")  # a symlink loop
    outside = root.parent / f"{root.name}-elsewhere"
    copy(KERAS, outside / "log.csv")
    os.symlink(outside, root / "outside_link")
    copy(KERAS, root / "locked" / "history.csv")
    copy(KERAS, root / "broken" / "training_log.csv")
    (root / "broken" / "training_log.csv").write_bytes(bytes(range(256)) * 4)  # corrupted
    return root / "locked"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tree, with `locked/` unreadable (scandir raises, as for a folder without +r)."""
    root = tmp_path / "experiments"
    locked = build_tree(root)
    real_scandir = os.scandir

    def scandir(path=".", *args):
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_scandir(path, *args)

    monkeypatch.setattr(os, "scandir", scandir)
    return root


def relative(root: Path, refs) -> set[tuple[str, str]]:
    return {(os.path.relpath(r.path, root), r.layout) for r in refs}


def test_discovery_finds_exactly_one_run_per_layout_and_counts_skips(tree: Path) -> None:
    found = discover([tree])
    assert relative(tree, found.runs) == EXPECTED_RUNS
    assert dict(found.skipped) == EXPECTED_SKIPS
    assert [r.path for r in found.runs] == sorted(r.path for r in found.runs)


def test_follow_symlinks_reads_what_the_link_leads_to(tree: Path) -> None:
    found = discover([tree], follow_symlinks=True)
    assert relative(tree, found.runs) == EXPECTED_RUNS | {("outside_link/log.csv", "log_file")}
    assert "symlink leading out of the roots" not in found.skipped and found.skipped["symlink loop"] == 1


def test_hf_output_dir_is_read_from_its_newest_checkpoint(tree: Path) -> None:
    run = read_run(tree / "hf_out")
    newest = read_run(HF)
    assert sum(map(len, run.series.values())) == sum(map(len, newest.series.values()))


def test_mlflow_db_run_reads_nan_rows_through_is_nan(tree: Path) -> None:
    run = read_run(f"{tree / 'mlflow.db'}#run_a")
    loss = run.series["loss"]
    assert run.format == "mlflow" and len(loss) == 20 and len(run.series["val_loss"]) == 20
    assert math.isnan(loss.values[12]) and int(sum(map(math.isnan, loss.values))) == 1
    assert not any(map(math.isnan, read_run(f"{tree / 'mlflow.db'}#run_b").series["loss"].values))


def test_a_file_root_is_one_run_and_nested_roots_are_walked_once(tree: Path) -> None:
    found = discover([tree / "loose" / "history.csv"])
    assert [(r.path, r.layout) for r in found.runs] == [(str(tree / "loose" / "history.csv"), "log_file")]
    assert relative(tree, discover([tree, tree / "lightning_logs"]).runs) == EXPECTED_RUNS
