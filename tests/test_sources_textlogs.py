"""Training stdout logs of large-model trainers: Megatron, nanoGPT / torchtitan, fairseq.

Real logs from public repositories (tests/data/readers/README.md); the hostile variants
are made from their lines here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lossdoctor.errors import InputError
from lossdoctor.roles import resolve
from lossdoctor.sources import detect_format, read_run

DATA = Path(__file__).parent / "data" / "readers"
MEGATRON = DATA / "megatron" / "qwen7b_baseline_500_cut.log"
NANOGPT = DATA / "nanogpt" / "train.log"
FAIRSEQ = DATA / "fairseq" / "fsdp_13b_1gpu.log"


@pytest.mark.parametrize("path, fmt", [(MEGATRON, "megatron_log"), (NANOGPT, "step_log"), (FAIRSEQ, "fairseq_log")])
def test_real_logs_are_detected_and_their_roles_found(path, fmt):
    assert detect_format(path) == fmt
    run = read_run(path)
    assert run.format == fmt
    roles = resolve(run).by_role
    assert roles["train_loss"] and roles["val_loss"]


def test_megatron_iterations_and_validations():
    run = read_run(MEGATRON)
    loss = run.series["lm loss"]
    assert loss.steps[:3].tolist() == [1, 2, 3] and loss.values[0] == 12.63599
    assert loss.steps[-1] == 500 and loss.values[-1] == pytest.approx(6.234, abs=5e-4)
    assert run.series["grad norm"].values[0] == 20.203
    assert run.series["learning rate"].values[0] == 2e-07
    assert set(run.series["number of skipped iterations"].values) == {0.0}
    val = run.series["val lm loss"]
    assert val.steps[0] == 100 and val.values[0] == 7.66649
    assert "val ppl" in run.series and "loss scale" in run.series
    roles = resolve(run).by_role
    assert roles == {**roles, "train_loss": "lm loss", "val_loss": "val lm loss", "grad_norm": "grad norm",
                     "lr": "learning rate"}  # `loss scale` is not a loss


def _megatron_lines() -> list[str]:
    return MEGATRON.read_text(encoding="utf-8").split("\n")


def _edit_iterations(edit) -> str:
    """The Megatron fixture with `edit(iteration, line) -> line` applied to its iteration lines."""
    out = []
    for line in _megatron_lines():
        if " iteration " in line and "/     500 |" in line:
            line = edit(int(line.split("iteration")[1].split("/")[0]), line)
        out.append(line)
    return "\n".join(out)


def _drop(field: str, line: str) -> str:
    start = line.index(f"| {field}:")
    return line[:start] + line[line.index("|", start + 1):]


def test_a_vanished_loss_is_nan_and_the_skips_a_series(tmp_path):
    def edit(it, line):
        if it in (40, 41, 42):  # every iteration of the interval skipped: Megatron prints no loss
            line = _drop("lm loss", _drop("grad norm", line)).replace(
                "number of skipped iterations:   0", "number of skipped iterations:   1")
        if it == 50:
            line = line.replace(line.split("grad norm: ")[1].split(" |")[0], "nan")
        return line

    log = tmp_path / "train.out"
    log.write_text(_edit_iterations(edit), encoding="utf-8")
    run = read_run(log)
    loss = run.series["lm loss"]
    at = {int(s): v for s, v in zip(loss.steps, loss.values)}
    assert all(math.isnan(at[i]) for i in (40, 41, 42)) and math.isfinite(at[39]) and math.isfinite(at[43])
    skipped = run.series["number of skipped iterations"]
    assert skipped.values[np.isin(skipped.steps, [40, 41, 42])].tolist() == [1, 1, 1]
    assert math.isnan(run.series["grad norm"].values[run.series["grad norm"].steps == 50][0])
    assert 40 not in run.series["grad norm"].steps  # a missing grad norm is not a loss: just absent
    assert any("missing from 3 iteration lines" in n and "iteration 40" in n for n in run.notes)


def test_fp16_calibration_at_the_start_is_not_nan(tmp_path):
    def edit(it, line):
        if it <= 3:
            return _drop("lm loss", line).replace("number of skipped iterations:   0", "number of skipped iterations:   1")
        return line

    log = tmp_path / "train.log"
    log.write_text(_edit_iterations(edit), encoding="utf-8")
    run = read_run(log)
    assert run.series["lm loss"].steps[0] == 4 and np.isfinite(run.series["lm loss"].values).all()
    assert any("absent from the first 3 iteration lines" in n for n in run.notes)


def test_a_run_that_never_logs_a_loss_is_all_nan(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(_edit_iterations(lambda it, line: _drop("lm loss", line).replace(
        "number of skipped iterations:   0", "number of skipped iterations:   1")), encoding="utf-8")
    loss = read_run(log).series["lm loss"]
    assert len(loss) > 50 and np.isnan(loss.values).all()


def test_a_long_preamble_is_still_a_megatron_log(tmp_path):
    lines = _megatron_lines()
    first = next(i for i, line in enumerate(lines) if " iteration " in line)
    noise = [f" [WARNING]  async_io requires the dev libaio .so object and headers ({i})" for i in range(1500)]
    log = tmp_path / "node0.log"
    log.write_text("\n".join(lines[:first] + noise + lines[first:]), encoding="utf-8")
    assert log.read_text().index(" iteration ") > 64 * 1024
    assert detect_format(log) == "megatron_log"
    assert len(read_run(log).series["lm loss"]) == len(read_run(MEGATRON).series["lm loss"])


def test_megatron_without_iterations_says_so(tmp_path):
    log = tmp_path / "crash.log"
    log.write_text("\n".join(_megatron_lines()[:31]), encoding="utf-8")  # launcher + argument dump only
    assert detect_format(log) == "megatron_log"
    with pytest.raises(InputError, match="no Megatron iteration lines"):
        read_run(log)


def test_nanogpt_eval_and_iteration_lines():
    run = read_run(NANOGPT)
    assert run.series["train loss"].steps.tolist() == [0, 100, 200, 300, 400]
    assert run.series["val loss"].values[-1] == 3.3687
    loss = run.series["loss"]
    assert loss.steps[0] == 0 and loss.values[0] == 4.2709
    assert np.isnan(loss.values[loss.steps >= 425]).all() and np.isfinite(loss.values[loss.steps < 425]).all()
    assert run.series["time"].values[0] == 10268.08 and run.series["mfu"].values[0] == -100.0


def test_torchtitan_lines(tmp_path):
    esc = "\x1b"
    lines = [f"[rank0]:[titan] 2025-10-30 14:32:{58 + i // 10},897 - root - INFO - {esc}[31mstep: {i:2d}  "
             f"{esc}[32mloss: {8.1661 - 0.1 * i:7.4f}  {esc}[33mgrad_norm: {'    nan' if i == 7 else f'{3.6 + i:7.4f}'}  "
             f"{esc}[38;2;180;60;0mmemory:  2.47GiB(3.12%)  {esc}[34mtps: 3,502  {esc}[36mtflops: 1.90  "
             f"{esc}[35mmfu: 0.19%{esc}[39m" for i in range(1, 11)]
    log = tmp_path / "titan.log"
    log.write_text("Starting job\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert detect_format(log) == "step_log"
    run = read_run(log)
    assert run.series["loss"].steps.tolist() == list(range(1, 11))
    assert run.series["loss"].values[0] == pytest.approx(8.0661)
    assert math.isnan(run.series["grad_norm"].values[6]) and run.series["tps"].values[0] == 3502
    assert resolve(run).by_role["grad_norm"] == "grad_norm"


def test_fairseq_train_inner_and_valid():
    run = read_run(FAIRSEQ)
    loss = run.series["loss"]
    assert loss.steps.tolist() == list(range(1, 11)) and loss.values[2] == 25.22
    assert run.series["loss_scale"].values.tolist()[:3] == [4, 4, 1]
    assert run.series["valid_loss"].steps.tolist() == [10] and run.series["valid_loss"].values[0] == 17.953
    assert "train_loss" not in run.series and "epoch" not in run.series and "update" not in run.series
    assert any("2 gradient overflows" in n for n in run.notes)
    roles = resolve(run).by_role
    assert roles["grad_norm"] == "gnorm" and roles["train_loss"] == "loss"


def test_fairseq_bare_json_lines(tmp_path):
    log = tmp_path / "train.log"
    log.write_text('{"epoch": 1, "update": 0.5, "loss": "9.1", "gnorm": "inf", "num_updates": "100"}\n'
                   'garbage line\n'
                   '{"epoch": 1, "valid_loss": "8.7", "valid_num_updates": "100"}\n'
                   '{"epoch": 1, "update": 1.0, "loss": "nan", "gnorm": "2.5", "num_updates": "200"}\n', encoding="utf-8")
    assert detect_format(log) == "fairseq_log"
    run = read_run(log)
    assert run.series["loss"].steps.tolist() == [100, 200] and math.isnan(run.series["loss"].values[1])
    assert run.series["gnorm"].values[0] == math.inf
    assert run.series["valid_loss"].values.tolist() == [8.7]
