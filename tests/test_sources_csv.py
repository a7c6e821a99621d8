"""CSV-like logs: real corpus files (numbers from MANIFEST.yaml) and generated quirks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lossdoctor.errors import InputError
from lossdoctor.sources import BY_NAME, detect_format, read_run

RUNS = Path(__file__).parent / "data" / "corpus" / "runs"


def corpus(folder: str):
    """Read the one log file of a corpus run folder."""
    (path,) = [p for p in (RUNS / folder).iterdir() if p.is_file()]
    return read_run(path)


def write(tmp_path: Path, text: str | bytes, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


# --- real logs -------------------------------------------------------------------------


def test_speech_digit_title_line_semicolon_crlf() -> None:
    run = corpus("keras_csv-speech_digit_semicolon_model_history_log")
    assert run.format == "keras_csv"
    val = run.series["val_loss"]
    assert val.axis == "epoch" and len(val) == 17
    assert val.values.min() == pytest.approx(0.1439, abs=1e-4)
    assert val.steps[np.argmin(val.values)] == 6
    assert run.series["loss"].values[0] == pytest.approx(1.576, abs=1e-3)
    assert run.series["loss"].values[-1] == pytest.approx(0.0445, abs=1e-4)


def test_brain_tumor_appended_runs_keep_last_segment() -> None:
    run = corpus("keras_csv-brain_tumor_appended_runs_training_log")
    loss = run.series["loss"]
    assert list(loss.steps) == [0, 1, 2, 3, 4]
    assert loss.values[0] == pytest.approx(1.246, abs=1e-3)
    assert loss.values[-1] == pytest.approx(1.027, abs=1e-3)
    assert "learning_rate" in run.series
    assert any("went backwards" in note for note in run.notes)


def test_gru_denoiser_na_means_not_logged() -> None:
    # Keras' CSVLogger writes NA for a key missing from an epoch's logs (no validation):
    # that is an absent value, not a NaN loss, so no val_* series exists at all.
    run = corpus("keras_csv-gru_denoiser_NA_val_training_history")
    assert not any(name.startswith("val_") for name in run.series)
    assert len(run.series["loss"]) == 15  # last segment
    assert run.series["loss"].values.min() == pytest.approx(0.0480, abs=1e-4)


def test_fruit_freshness_no_epoch_column_uses_rows() -> None:
    run = corpus("keras_csv-fruit_freshness_noepoch_training_history")
    val = run.series["val_loss"]
    assert val.axis == "row" and len(val) == 50 and list(val.steps) == list(range(50))
    assert val.values[0] == pytest.approx(0.657, abs=1e-3)
    assert val.values[-1] == pytest.approx(3.354, abs=1e-3)


def test_plantas_unnamed_index_is_not_a_metric() -> None:
    run = corpus("keras_csv-plantas_pandas_index_training_history")
    assert set(run.series) == {"accuracy", "loss", "val_accuracy", "val_loss"}
    assert list(run.series["val_loss"].steps) == list(range(20))
    assert run.series["val_loss"].values[-1] == pytest.approx(0.384, abs=1e-3)


def test_ftc_unet_nan_strings_kept() -> None:
    run = corpus("keras_csv-ftc_unet_nan_metric_training_history")
    assert np.isnan(run.series["dice_coefficient_t"].values).all()
    assert len(run.series["dice_coefficient_t"]) == 32
    assert np.isfinite(run.series["val_dice_coefficient_t"].values).all()


def test_hevisum_camelcase_epoch_axis() -> None:
    run = corpus("plain_csv-hevisum_fold3_training_log")
    assert run.format == "csv"
    val = run.series["ValLoss"]
    assert val.axis == "epoch" and val.steps[0] == 1 and len(val) == 19
    assert val.values.min() == pytest.approx(67.42, abs=0.01)
    assert "Epoch" not in run.series


def test_pinn_em_nan_tail_kept() -> None:
    run = corpus("lightning-pinn_em_v14_nan_metrics")
    mean = run.series["mean_loss"]
    assert len(mean) == 262 and mean.axis == "step"
    assert np.isnan(mean.values[218:]).all() and np.isfinite(mean.values[:218]).all()
    assert int(np.isnan(mean.values).sum()) == 44
    assert mean.values[0] == pytest.approx(2.869e12, rel=1e-3)
    assert mean.values[217] == pytest.approx(1.043, abs=1e-3)


def test_camels_lr_rows_with_empty_epoch_kept() -> None:
    run = corpus("lightning-camels_domain_adapt_v24_diverge_metrics")
    assert run.format == "lightning_csv"
    assert run.series["lr-Adam"].steps[0] == 0
    assert run.series["lr-Adam"].values[0] == pytest.approx(0.0005)
    assert "epoch" not in run.series and "step" not in run.series
    domain = run.series["train_domain_loss"]
    assert domain.values[list(domain.steps).index(749)] == 50.0
    assert len(run.series["val_loss"]) == 4


def test_lightning_sparse_rows_and_resume_offset() -> None:
    v5 = corpus("lightning-slm_training_v5_resumed_metrics")
    assert v5.series["train_loss_step"].steps[0] == 140749
    assert not v5.notes
    assert list(np.round(v5.series["val_loss"].values, 3)) == [3.563, 3.566, 3.570, 3.604]
    mnist = corpus("lightning-mnist_cnn_metrics")
    assert len(mnist.series["test_loss"]) == 1
    assert mnist.series["val_loss"].values[-1] == pytest.approx(0.0142, abs=1e-4)


def test_courtvision_padded_columns_all_nan_val() -> None:
    run = corpus("yolo-courtvision_val_nan_results")
    assert run.format == "ultralytics_csv"
    box = run.series["val/box_loss"]
    assert len(box) == 225 and np.isnan(box.values).all() and box.axis == "epoch"
    assert run.series["train/box_loss"].values[0] == pytest.approx(3.70, abs=0.01)
    assert "" not in run.series and "epoch" not in run.series


def test_yolov5_columns() -> None:
    run = corpus("yolo-yolov5_aus_bills_300ep_results")
    assert {"train/obj_loss", "metrics/mAP_0.5:0.95", "x/lr0"} <= set(run.series)
    cls = run.series["val/cls_loss"]
    assert cls.steps[0] == 0 and len(cls) == 300
    assert cls.values.min() == pytest.approx(0.001688, abs=1e-6)


# --- generated quirks -----------------------------------------------------------------


@pytest.mark.parametrize("sep", ["\t", "|", ";", ",", "  "])
def test_delimiters(tmp_path: Path, sep: str) -> None:
    rows = ["epoch", "loss", "val_loss"], ["0", "1.5", "1.6"], ["1", "1.2", "1.4"]
    run = read_run(write(tmp_path, "\n".join(sep.join(r) for r in rows) + "\n"))
    assert run.format == "keras_csv"
    assert list(run.series["val_loss"].values) == [1.6, 1.4]


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_header_names_past_the_widest_row_have_no_cells(tmp_path: Path, sep: str) -> None:
    """A header wider than every data row (a log whose writer dropped columns, or a hostile
    10,000-name header over 15-field rows) reads the columns that have cells, as if the extra
    names were not there; the extra names only make no series."""
    names = ["epoch", "loss", "val_loss", "loss", "lr", "extra"]
    rows = [["0", "1.5", "1.6", "2.0"], ["1", "1.2", "1.4", "1.9"], ["2", "1.1"]]
    run = read_run(write(tmp_path, "\n".join(sep.join(r) for r in [names, *rows]) + "\n"))
    assert sorted(run.series) == ["loss", "loss.1", "val_loss"]
    assert list(run.series["val_loss"].values) == [1.6, 1.4] and list(run.series["loss.1"].values) == [2.0, 1.9]
    assert list(run.series["loss"].steps) == [0, 1, 2]


def test_bom_crlf_no_trailing_newline(tmp_path: Path) -> None:
    run = read_run(write(tmp_path, b"\xef\xbb\xbfepoch,loss\r\n0,0.9\r\n1,0.8"))
    assert list(run.series) == ["loss"]
    assert list(run.series["loss"].values) == [0.9, 0.8]


def test_infinity_spellings_are_infinite_not_nan(tmp_path: Path) -> None:
    text = "step,loss\n1,inf\n2,-inf\n3,Infinity\n4,-Infinity\n5,nan\n6,NA\n7,-nan\n8,0.5\n"
    loss = read_run(write(tmp_path, text)).series["loss"]
    assert list(loss.values[:4]) == [math.inf, -math.inf, math.inf, -math.inf]
    assert list(loss.steps[4:]) == [5, 7, 8]  # NA at step 6 is "not logged"
    assert np.isnan(loss.values[4:6]).all() and loss.values[6] == 0.5


def test_empty_cell_is_not_logged_but_nan_is(tmp_path: Path) -> None:
    run = read_run(write(tmp_path, "step,loss,val_loss\n1,0.5,\n2,0.4,nan\n3,0.3,\n"))
    val = run.series["val_loss"]
    assert list(val.steps) == [2] and np.isnan(val.values[0])


def test_latin1_header(tmp_path: Path) -> None:
    run = read_run(write(tmp_path, "epoch,précision\n0,1.0\n1,0.5\n".encode("latin-1")))
    assert list(run.series) == ["précision"]
    assert any("not UTF-8" in note for note in run.notes)


def test_text_column_skipped_with_note(tmp_path: Path) -> None:
    run = read_run(write(tmp_path, "epoch,loss,val_loss\n0,high,0.5\n1,low,0.4\n"))
    assert "loss" not in run.series and "val_loss" in run.series
    assert any("loss: holds text" in note for note in run.notes)


def test_one_row_is_readable(tmp_path: Path) -> None:
    run = read_run(write(tmp_path, "epoch,loss\n0,0.7\n"))
    assert len(run.series["loss"]) == 1


def test_trailing_comma_and_padding(tmp_path: Path) -> None:
    text = "   epoch,  train/box_loss,  metrics/mAP50(B),\n      1,   2.5,   0.1,\n      2,   2.0,   0.2,\n"
    run = read_run(write(tmp_path, text, "results.csv"))
    assert run.format == "ultralytics_csv"
    assert set(run.series) == {"train/box_loss", "metrics/mAP50(B)"}


def test_every_csv_reader_is_registered() -> None:
    assert {"keras_csv", "lightning_csv", "ultralytics_csv", "csv"} <= set(BY_NAME)
    assert detect_format(RUNS / "lightning-mnist_cnn_metrics" / "mnist_cnn_metrics.csv") == "lightning_csv"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty file"),
        (b"epoch,loss\n", "header only, no data rows"),
        (b"\x00\x01\x02\x03PK\x03\x04" * 50, "not a text log (binary content)"),
        (b"epoch,note\n0,hello\n1,world\n", "no numeric columns"),
    ],
)
def test_input_errors(tmp_path: Path, content: bytes, problem: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(InputError) as info:
        read_run(path)
    assert info.value.problem == problem
    assert str(path) in str(info.value)
