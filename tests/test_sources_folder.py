"""Run folders (which file is read) and the InputError cases of `read_run`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lossdoctor.errors import InputError
from lossdoctor.sources import detect_format, read_run

RUNS = Path(__file__).parent / "data" / "corpus" / "runs"
HF_STATE = RUNS / "hf_trainer-falcon_lora_imdb_trainer_state" / "falcon_lora_imdb_trainer_state.json"
LIGHTNING = RUNS / "lightning-turngpt_noisy_metrics" / "turngpt_noisy_metrics.csv"
YOLO = RUNS / "yolo-fire_smoke_v8_25ep_results" / "fire_smoke_v8_25ep_results.csv"
TFEVENTS = RUNS / "tensorboard-hf_trainer_gpt_lain" / "hf_trainer_gpt_lain_events.out.tfevents.1719642696.0"


def test_trainer_state_preferred_over_events_and_csv(tmp_path: Path) -> None:
    shutil.copy(HF_STATE, tmp_path / "trainer_state.json")
    shutil.copy(LIGHTNING, tmp_path / "metrics.csv")
    (tmp_path / "runs").mkdir()
    shutil.copy(TFEVENTS, tmp_path / "runs" / TFEVENTS.name)
    run = read_run(tmp_path)
    assert run.format == "hf_trainer_state"
    assert any("read trainer_state.json" in note and "metrics.csv" in note for note in run.notes)


def test_newest_checkpoint_trainer_state(tmp_path: Path) -> None:
    state = json.loads(HF_STATE.read_text())
    for number in (20, 100):
        folder = tmp_path / f"checkpoint-{number}"
        folder.mkdir()
        kept = [e for e in state["log_history"] if e.get("step", 0) <= number]
        (folder / "trainer_state.json").write_text(json.dumps({**state, "log_history": kept}))
    (tmp_path / "checkpoint-100" / "config.json").write_text('{\n  "model_type": "falcon"\n}\n')
    run = read_run(tmp_path)
    assert run.series["loss"].steps[-1] == 100
    assert detect_format(tmp_path) == "hf_trainer_state"


def test_lightning_preferred_over_ultralytics_and_loose_logs(tmp_path: Path) -> None:
    shutil.copy(LIGHTNING, tmp_path / "metrics.csv")
    shutil.copy(YOLO, tmp_path / "results.csv")
    (tmp_path / "hparams.yaml").write_text("lr: 0.1\n")
    assert read_run(tmp_path).format == "lightning_csv"
    (tmp_path / "metrics.csv").unlink()
    assert read_run(tmp_path).format == "ultralytics_csv"


def test_tensorboard_found_anywhere_below(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(TFEVENTS, tmp_path / "a" / "b" / TFEVENTS.name)
    (tmp_path / "notes.txt").write_text("some words about the run\n")
    assert detect_format(tmp_path) == "tensorboard"


def test_loose_logs_are_merged_with_stems_on_clashes(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("epoch,loss,acc\n0,1.0,0.5\n1,0.8,0.6\n")
    (tmp_path / "val.jsonl").write_text('{"epoch": 0, "loss": 1.1, "f1": 0.3}\n{"epoch": 1, "loss": 0.9, "f1": 0.4}\n')
    (tmp_path / "README.txt").write_text("This run used a small model, and it was fine.\n")
    run = read_run(tmp_path)
    assert set(run.series) == {"train/loss", "val/loss", "acc", "f1"}
    assert any("as one run" in note for note in run.notes)


def test_single_loose_log(tmp_path: Path) -> None:
    shutil.copy(RUNS / "jsonl-mae_pretrain_400ep_log" / "mae_pretrain_400ep_log.txt", tmp_path / "log.txt")
    run = read_run(tmp_path)
    assert run.format == "jsonl" and len(run.series["train_loss"]) == 400


def test_folder_without_log(tmp_path: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 10)
    with pytest.raises(InputError, match="no training log found"):
        read_run(tmp_path)


def test_folder_with_only_an_empty_log_says_so(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_run(tmp_path)


def test_no_such_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_run(tmp_path / "missing.csv")
    assert info.value.problem == "no such file or directory"
    assert "missing.csv" in str(info.value)


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.csv"
    path.write_text("epoch,loss\n0,1\n")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("os.open", refuse)  # chmod does not stop root; every reader opens with os.open
    with pytest.raises(InputError) as info:
        read_run(path)
    assert info.value.problem == "permission denied"


def test_unrecognised_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Training went well.\nNothing else to say.\n")
    assert detect_format(path) is None
    with pytest.raises(InputError) as info:
        read_run(path)
    assert info.value.problem == "unrecognised log format"


def test_binary_named_csv(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError) as info:
        read_run(path)
    assert info.value.problem == "not a text log (binary content)"


def test_zero_byte_event_file_named_tfevents(tmp_path: Path) -> None:
    path = tmp_path / "events.out.tfevents.1.host"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_run(path)
