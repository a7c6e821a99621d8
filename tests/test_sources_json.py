"""JSON logs (lines, records, HF trainer_state) and MLflow metric files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from lossdoctor.errors import InputError
from lossdoctor.sources import detect_format, read_run

RUNS = Path(__file__).parent / "data" / "corpus" / "runs"
MLFLOW = RUNS / "mlflow-artic_run_5371314d"


def corpus(folder: str):
    """Read the one log file of a corpus run folder."""
    (path,) = [p for p in (RUNS / folder).iterdir() if p.is_file()]
    return read_run(path)


def write(tmp_path: Path, text: str, name: str = "log.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- real logs -------------------------------------------------------------------------


def test_detectron2_iteration_axis_and_bare_nan() -> None:
    run = corpus("jsonl-detectron2_water_meters_metrics")
    assert run.format == "jsonl"
    total = run.series["total_loss"]
    assert total.axis == "step" and total.steps[0] == 19
    assert total.values[0] == pytest.approx(4.637, abs=1e-3)
    assert total.values.min() == pytest.approx(0.381, abs=1e-3)
    assert np.isnan(run.series["bbox/APl"].values).any()
    assert list(np.round(run.series["bbox/AP"].values, 2)) == [40.39, 58.0, 63.94, 64.13]
    assert "iteration" not in run.series


def test_detectron2_pothole_early_loss() -> None:
    total = corpus("jsonl-detectron2_pothole_metrics").series["total_loss"]
    assert len(total) == 90 and total.values[0] == pytest.approx(86.47, abs=0.01)


def test_mmengine_validation_lines_do_not_truncate_train_loss() -> None:
    run = corpus("jsonl-mmengine_mmpose_scalars")
    loss = run.series["loss"]
    assert len(loss) == 789 and list(loss.steps) == list(range(1, 790))
    assert loss.values[0] == pytest.approx(0.422, abs=1e-3)
    assert loss.values[-1] == pytest.approx(0.0815, abs=1e-4)
    ap = run.series["coco/AP"]
    assert list(ap.steps) == list(range(10, 140, 10))
    assert ap.values[-1] == pytest.approx(0.581, abs=1e-3)
    assert ap.values[0] == pytest.approx(0.0009, abs=1e-4)
    assert len(run.series["data_time"]) == 789 and len(run.series["val/data_time"]) == 13
    assert not any("went backwards" in note for note in run.notes)


def test_mae_log_txt_is_json_lines_on_epochs() -> None:
    run = corpus("jsonl-mae_linprobe_core50_a_vitb16_log")
    test_loss = run.series["test_loss"]
    assert test_loss.axis == "epoch" and len(test_loss) == 50
    assert test_loss.values[0] == pytest.approx(3.772, abs=1e-3)
    assert test_loss.values[-1] == pytest.approx(6.731, abs=1e-3)
    pretrain = corpus("jsonl-mae_pretrain_400ep_log")
    assert set(pretrain.series) == {"train_lr", "train_loss"}
    assert pretrain.series["train_loss"].values[-1] == pytest.approx(0.0475, abs=1e-4)


def test_hf_cpt_summary_and_predict_entries() -> None:
    run = corpus("hf_trainer-cpt_seq2seq_rouge_trainer_state")
    loss = run.series["loss"]
    assert list(loss.steps) == list(range(500, 5001, 500))
    assert loss.values[0] == pytest.approx(1.141, abs=1e-3)
    assert loss.values[-1] == pytest.approx(0.2645)
    ev = run.series["eval_loss"]
    assert ev.values.min() == pytest.approx(0.4853, abs=1e-4)
    assert ev.steps[np.argmin(ev.values)] == 3294
    assert not {"train_loss", "train_runtime", "total_flos", "epoch", "step"} & set(run.series)
    assert len(run.series["predict_loss"]) == 10


def test_hf_whisper_eval_and_trocr_gradnorm() -> None:
    ja = corpus("hf_trainer-whisper_large_v2_ja_trainer_state")
    assert list(np.round(ja.series["eval_loss"].values, 4)) == [0.3210, 0.3585, 0.3937, 0.4123, 0.4200]
    trocr = corpus("hf_trainer-trocr_huge_gradnorm_trainer_state")
    assert len(trocr.series["loss"]) == 700
    assert trocr.series["grad_norm"].values.max() == pytest.approx(4.34e6, rel=1e-2)


def test_mlflow_duplicate_last_line_is_not_a_restart() -> None:
    run = read_run(MLFLOW / "metrics" / "MAE loss per step")
    assert run.format == "mlflow"
    series = run.series["MAE loss per step"]
    assert len(series) == 400 and list(series.steps) == list(range(400))
    assert series.values[0] == pytest.approx(0.1211, abs=1e-4)
    assert series.values.min() == pytest.approx(0.03177, abs=1e-5)
    assert not any("went backwards" in note for note in run.notes)


def test_mlflow_run_folder_reads_every_metric() -> None:
    run = read_run(MLFLOW)
    assert set(run.series) == {"MAE avareage on epoch", "MAE loss per step", "MAE on validation after epoch"}
    assert run.series["MAE on validation after epoch"].values[-1] == pytest.approx(0.03305, abs=1e-5)


# --- generated quirks -----------------------------------------------------------------


def test_jsonl_strings_nested_nan_and_garbage(tmp_path: Path) -> None:
    lines = [
        '{"step": 1, "loss": "0.5", "eval": {"loss": 1}}',
        "",
        '{"step": 2, "loss": NaN, "lr": Infinity}',
        "this is not json",
        '{"step": 3, "loss": "inf", "lr": -Infinity}',
    ]
    run = read_run(write(tmp_path, "\n".join(lines)))
    loss = run.series["loss"].values
    assert loss[0] == 0.5 and math.isnan(loss[1]) and loss[2] == math.inf
    assert list(run.series["eval/loss"].values) == [1.0]
    assert list(run.series["lr"].values) == [math.inf, -math.inf]
    assert any("line 4" in note for note in run.notes)


def test_jsonl_mostly_garbage_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '{"loss": 1}\nnope\nnope\nnope\n')
    with pytest.raises(InputError, match="not JSON lines"):
        read_run(path)


def test_json_list_of_records(tmp_path: Path) -> None:
    records = [{"epoch": 0, "train": {"loss": 0.9}}, {"epoch": 1, "train": {"loss": 0.7}}]
    path = write(tmp_path, json.dumps(records, indent=2), "history.json")
    run = read_run(path)
    assert run.format == "json_records"
    assert run.series["train/loss"].axis == "epoch" and list(run.series["train/loss"].values) == [0.9, 0.7]


def test_keras_history_dict_of_lists(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"loss": [0.9, 0.5], "val_loss": [1.0, 0.8]}, indent=1), "history.json")
    run = read_run(path)
    assert run.format == "json_records" and list(run.series["val_loss"].values) == [1.0, 0.8]


def test_trainer_state_without_log_history(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"global_step": 10}, indent=2), "trainer_state.json")
    assert detect_format(path) == "hf_trainer_state"
    with pytest.raises(InputError) as info:
        read_run(path)
    assert info.value.problem == "trainer_state.json has no log_history"


def test_cut_off_json_names_line_and_column(tmp_path: Path) -> None:
    text = (RUNS / "hf_trainer-falcon_lora_imdb_trainer_state" / "falcon_lora_imdb_trainer_state.json").read_text()
    path = write(tmp_path, text[: len(text) // 2], "trainer_state.json")
    with pytest.raises(InputError, match=r"invalid JSON at line \d+ col \d+") as info:
        read_run(path)
    assert str(path) in str(info.value)


def test_mlflow_nested_name_and_specials(tmp_path: Path) -> None:
    metric = tmp_path / "run" / "metrics" / "train" / "loss"
    metric.parent.mkdir(parents=True)
    (tmp_path / "run" / "meta.yaml").write_text("run_id: x\n")
    metric.write_text("1700000000000 0.5 0\n1700000000100 NaN 1\n1700000000200 Infinity 2\n")
    run = read_run(tmp_path / "run")
    values = run.series["train/loss"].values
    assert values[0] == 0.5 and math.isnan(values[1]) and values[2] == math.inf
    assert read_run(metric).series["train/loss"].steps.tolist() == [0, 1, 2]


def test_batches_parsed_as_one_array_match_line_by_line(tmp_path):
    """The batch fast path (one JSON array per batch) reads exactly what line-by-line parsing reads,
    and a garbage line still costs only a note, wherever it falls."""
    import lossdoctor.sources.jsonl as jsonl

    lines = [f'{{"step": {i}, "loss": {1 / (i + 1)!r}, "lr": {"NaN" if i == 7 else 0.1}}}' for i in range(50)]
    lines[20] = '{"step": 20, "loss": [1'  # cut off: on its own, garbage
    lines[21] = '2], "x": 3}'  # in a joined array, the two would glue into one object
    f = tmp_path / "m.jsonl"
    f.write_text("\n".join(lines) + "\n")
    fast = read_run(f)
    old, jsonl.BATCH_CHARS = jsonl.BATCH_CHARS, 1  # one line per batch: every line parsed on its own
    try:
        slow = read_run(f)
    finally:
        jsonl.BATCH_CHARS = old
    assert set(fast.series) == set(slow.series) == {"loss", "lr"}
    for name in fast.series:
        np.testing.assert_array_equal(fast.series[name].values, slow.series[name].values)
        np.testing.assert_array_equal(fast.series[name].steps, slow.series[name].steps)
    assert fast.notes == slow.notes and "line 21, 22" in fast.notes[0]


def test_a_record_without_a_step_takes_the_preceding_records_step(tmp_path: Path) -> None:
    """The forward fill of missing steps: a record before any step stays unplaced (dropped),
    later ones take the step logged before them (and the points sharing a step are then
    spread evenly up to the next one, as for any repeated step)."""
    path = tmp_path / "metrics.json"
    rows = [{"loss": 9.0}, {"iteration": 10, "loss": 1.0}, {"loss": 0.9}, {"loss": 0.8},
            {"iteration": 20, "loss": 0.7}, {"loss": 0.6}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    loss = read_run(path).series["loss"]
    assert np.allclose(loss.steps, [10, 10 + 10 / 3, 10 + 20 / 3, 20, 25])
    assert loss.values.tolist() == [1.0, 0.9, 0.8, 0.7, 0.6]
