"""The run's own numbering in remedies: steps or epochs, checkpoints named as the trainer
names them (found beside the log when saved), the learning rate as configured. Over the
real writers' fixtures in tests/data/layouts (see PROVENANCE.md there)."""

from __future__ import annotations

from pathlib import Path

from lossdoctor.diagnose import Settings, diagnose_path, numbering_of
from lossdoctor.numbering import Numbering
from lossdoctor.roles import resolve
from lossdoctor.sources import read_run

LAYOUTS = Path(__file__).parent / "data" / "layouts"


def numbering(path: Path) -> Numbering:
    run = read_run(path)
    return numbering_of(run, resolve(run, {}))


def test_lightning_checkpoints_carry_the_step_after_the_logged_one() -> None:
    n = numbering(LAYOUTS / "lightning_named" / "logs" / "tiny_regressor" / "version_0")
    assert n.axis == "step" and n.writer == "lightning"
    # the validation logged at step 47 is saved as epoch=3-step=48.ckpt (found beside the log)
    assert n.keep(47) == "epoch=3-step=48.ckpt (step 47)"
    assert n.keep(23) == "the checkpoint of step 23 (ModelCheckpoint names it epoch=…-step=24.ckpt)"
    assert n.restart(40) == "restart from the last checkpoint saved before step 40"  # its only one is later
    assert n.restart(n.first_step) .startswith("restart from scratch")
    assert n.configured_lr == 0.05  # hparams.yaml: lr


def test_hf_checkpoints_found_beside_the_trainer_state() -> None:
    n = numbering(LAYOUTS / "hf_output_dir" / "tiny-bert")
    assert n.writer == "hf_trainer"
    assert n.keep(24) == "checkpoint-24 (step 24)"
    assert n.keep(30).endswith("(the Trainer names it checkpoint-30)")
    assert n.restart(30) == "restart from checkpoint-24 (the last saved before step 30)"


def test_keras_epochs_count_from_zero_in_the_csv_and_from_one_in_checkpoint_names() -> None:
    n = numbering(LAYOUTS / "keras_csvlogger_nested")
    assert n.axis == "epoch" and n.at(2) == "epoch 2"
    assert "names it 03" in n.keep(2)


def test_ultralytics_args_yaml_gives_the_configured_rate() -> None:
    n = numbering(LAYOUTS / "ultralytics_project" / "runs" / "detect" / "train")
    assert n.axis == "epoch" and n.configured_lr == 0.01  # args.yaml: lr0
    assert "weights/best.pt is chosen by mAP" in n.keep(2)


def test_a_nan_after_a_saved_checkpoint_names_it_and_the_rate_is_the_schedules_peak() -> None:
    diag = diagnose_path(LAYOUTS / "hf_many_outputs" / "bert-lr5e-3-nan", Settings.default())
    nan = min((f for f in diag.findings if f.rule == "nan_loss"), key=lambda f: f.step)
    assert any("restart from checkpoint-12 (the last saved before step 16)" in r for r in nan.remedies)
    lr = [r for r in nan.remedies if r.startswith("Lower the learning rate from")]
    assert lr and "by 10x" not in lr[0]


def test_a_broken_hparams_file_costs_the_quoted_rate_only(tmp_path: Path) -> None:
    src = LAYOUTS / "lightning_named" / "logs" / "tiny_regressor" / "version_0"
    (tmp_path / "metrics.csv").write_bytes((src / "metrics.csv").read_bytes())
    (tmp_path / "hparams.yaml").write_bytes(b"lr: [unclosed\n\xff")
    n = numbering(tmp_path)
    assert n.configured_lr is None and n.keep(47).startswith("the checkpoint of step 47")
