"""Judging large runs end to end: restarts segmented into attempts, the rewind-and-skip plan
on a Megatron-style log with injected spikes, the --max-spike-score gate, checkpoints found
beside a log, and what the readers add (fairseq skipped updates, Megatron checkpoints)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lossdoctor.cli import main
from lossdoctor.diagnose import Settings, diagnose_path
from lossdoctor.sources import read_run
from lossdoctor.sources.checkpoints import beside, step_of
from synthetic import _megatron

MG = _megatron()  # benchmarks/spiky_megatron.py: the writer of the Megatron-style lines
SETTINGS = Settings.default()
READERS = Path(__file__).parent / "data" / "readers"


def _loss(it: float) -> float:
    return 2.0 + 6.0 * np.exp(-it / 800.0)


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _restored_log(tmp_path: Path, counter_goes_back: bool, marker: bool = True) -> Path:
    """Attempt 1 trains to iteration 4000 (loss ~2.04); the checkpoint of iteration 50 (loss
    ~7.6) is restored, so the loss jumps up 3.7x, and the curve is trained down again."""
    rng = np.random.default_rng(1)
    lines = [MG.iteration_line(it, 8000, _loss(it) * np.exp(rng.normal(0, 0.01)), 0.5) for it in range(10, 4001, 10)]
    if marker:
        lines.append("  successfully loaded checkpoint from /ckpt [ t 1/1, p 1/1 ] at iteration 50")
    first = 60 if counter_goes_back else 4010
    for k, it in enumerate(range(first, first + 4000, 10)):
        lines.append(MG.iteration_line(it, 8000, _loss(60 + 10 * k) * np.exp(rng.normal(0, 0.01)), 0.5))
    return _write(tmp_path / "restored.log", lines)


def test_a_restore_onto_an_older_state_is_not_a_spike(tmp_path: Path) -> None:
    diag = diagnose_path(_restored_log(tmp_path, counter_goes_back=False), SETTINGS)
    assert not [f for f in diag.findings if f.rule in ("loss_spike", "divergence")]
    assert any("restored after iteration 4000: a new attempt starts at iteration 4010" in n for n in diag.notes)
    assert diag.stability.attempts == (4010.0,)
    assert diag.stability.spike_loss.points == 0 and diag.rewind is None


def test_without_the_restore_line_the_same_jump_reads_as_a_spike(tmp_path: Path) -> None:
    # What the attempt segmentation buys: with no restore in the log, a 3.7x jump that comes
    # back down is indistinguishable from a spike.
    diag = diagnose_path(_restored_log(tmp_path, counter_goes_back=False, marker=False), SETTINGS)
    assert [f.step for f in diag.findings if f.rule == "loss_spike"] == [4010.0]


def test_a_restore_whose_counter_goes_back_keeps_the_latest_points(tmp_path: Path) -> None:
    diag = diagnose_path(_restored_log(tmp_path, counter_goes_back=True), SETTINGS)
    assert not [f for f in diag.findings if f.rule in ("loss_spike", "divergence")]
    note = next(n for n in diag.notes if "went backwards" in n)
    assert "a new attempt starts at step 60 (after 4000)" in note
    assert diag.curves["train_loss"].steps[0] == 10 and diag.curves["train_loss"].steps[-1] == 4050


def test_a_blow_up_ended_by_a_restore_is_a_spike_not_a_divergence(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    lines = []
    for it in range(10, 3001, 10):
        climb = 1 + max(0, it - 2500) / 100.0  # from 2,500 the loss climbs to 6x
        lines.append(MG.iteration_line(it, 6000, _loss(it) * climb * np.exp(rng.normal(0, 0.01)), 0.5))
    lines.append("  successfully loaded checkpoint from /ckpt [ t 1/1, p 1/1 ] at iteration 2400")
    for k, it in enumerate(range(3010, 6001, 10)):
        lines.append(MG.iteration_line(it, 6000, _loss(2410 + 10 * k) * np.exp(rng.normal(0, 0.01)), 0.5))
    diag = diagnose_path(_write(tmp_path / "blowup.log", lines), SETTINGS)
    assert "divergence" not in {f.rule for f in diag.findings}
    spike = next(f for f in diag.findings if f.rule == "loss_spike")
    assert 2500 <= spike.step <= 2700 and spike.end_step == 3010


def test_the_rewind_plan_on_injected_spikes(tmp_path: Path) -> None:
    log = MG.spiky_run(tmp_path / "run")
    out = tmp_path / "plan"
    result = CliRunner().invoke(main, ["diagnose", str(log), "--rewind-plan", str(out), "--format", "json"])
    assert result.exit_code == 1, result.output  # the last spike is a divergence: an error
    run = json.loads(result.output)["runs"][0]
    plan = run["rewind_plan"]
    assert plan["restore_step"] == 1500 and plan["checkpoint"].endswith("iter_0001500")
    assert [(s["onset_step"], s["why"]) for s in plan["spikes"]] == \
        [(2000, "recurred"), (3500, "recurred"), (5210, "did not recover")]
    # Each injected spike lies inside its skip range: from the step after the last normal
    # logged point (1991: Megatron's line at 2000 averages iterations 1991-2000) to the return.
    ranges = plan["skip_ranges"]
    assert ranges[0][0] == 1991 and 2050 <= ranges[0][1] <= 2100
    assert ranges[1][0] == 3491 and 3600 <= ranges[1][1] <= 3700
    assert ranges[2][0] == 5201
    assert json.loads((out / "rewind_plan.json").read_text())["skip_ranges"] == ranges
    batches = json.loads((out / "skip_batches.json").read_text())
    assert batches == [i for a, b in ranges for i in range(a, b + 1)]  # Lightning: a list of batch indices
    args = (out / "megatron_args.txt").read_text().splitlines()
    assert "--train-range-to-skip " + " ".join(f"{a} {b}" for a, b in ranges) in args
    assert "--skip-train-iteration-range " + " ".join(f"{a}-{b}" for a, b in ranges) in args
    assert run["spike_score"]["loss"]["points"] >= 3
    assert run["instability"]["grad_norm"]["leads"]  # the grad norm burst ahead of the spikes


def test_the_rewind_plan_of_a_run_in_a_folder_not_named_in_utf8(tmp_path: Path) -> None:
    """A Latin-1 folder name (b'caf\\xe9') reaches Python as a lone surrogate: the checkpoint
    path in megatron_args.txt's comment once failed the UTF-8 write (exit 70)."""
    folder = tmp_path / os.fsdecode(b"caf\xe9") / "run"
    ckpts = folder / "checkpoints"
    for it in range(MG.SAVE_EVERY, MG.TOTAL + 1, MG.SAVE_EVERY):
        (ckpts / f"iter_{it:07d}").mkdir(parents=True)
    log = folder / "train.log"
    log.write_bytes(("\n".join(MG.write_lines(0, str(ckpts))) + "\n").encode("utf-8", "surrogateescape"))
    out = tmp_path / "plan"
    result = CliRunner().invoke(main, ["diagnose", str(log), "--rewind-plan", str(out), "--format", "json"])
    assert result.exit_code == 1, result.output
    assert json.loads((out / "rewind_plan.json").read_text())["checkpoint"] == str(ckpts / "iter_0001500")
    first = (out / "megatron_args.txt").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# restart from the checkpoint of iteration 1500 (") and "caf\\udce9" in first


def test_the_report_says_the_plan_and_the_spike_score(tmp_path: Path) -> None:
    log = MG.spiky_run(tmp_path / "run")
    text = CliRunner().invoke(main, ["diagnose", str(log), "--format", "plain"]).output
    section = text.split("large-run stability:")[1]
    assert "spike score" in section and "OLMo" in section
    assert "rewind plan: restart from step 1,500" in section and "iter_0001500" in section


def test_a_healthy_small_run_has_no_large_run_section(tmp_path: Path, synthetic_dir: Path) -> None:
    from synthetic import MAKERS

    text = CliRunner().invoke(main, ["diagnose", str(MAKERS["healthy"](synthetic_dir)), "--format", "plain"]).output
    assert "large-run stability" not in text


@pytest.mark.parametrize("limit,code", [("0.001", 1), ("0.5", 0)])
def test_max_spike_score_gate(tmp_path: Path, limit: str, code: int) -> None:
    log = MG.spiky_run(tmp_path / "run")
    args = ["diagnose", str(log), "--fail-on", "never", "--max-spike-score", limit, "--format", "json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    doc = json.loads(result.output)
    assert doc["gate"]["max_spike_score"] == float(limit) and doc["gate"]["failed"] is bool(code)
    audit = CliRunner().invoke(main, ["audit", str(tmp_path / "run"), "--fail-on", "never", "-j", "1",
                                      "--max-spike-score", limit])
    assert audit.exit_code == code, audit.output


def test_max_spike_score_takes_a_share(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["diagnose", str(tmp_path), "--max-spike-score", "3"])
    assert result.exit_code == 2 and "0<=x<=1" in result.output


def test_checkpoints_found_beside_a_log(tmp_path: Path) -> None:
    for name in ("checkpoint-500", "checkpoint-1000", "iter_0001500", "global_step2000", "step2500-unsharded",
                 "checkpoints/epoch=3-step=3000.ckpt", "checkpoints/last.ckpt", "notes-step.txt"):
        target = tmp_path / "out" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.mkdir() if "." not in name else target.write_text("")
    log = tmp_path / "out" / "trainer_state.json"
    log.write_text("{}")
    found = beside(log, named=[4000.0])
    assert [c.step for c in found] == [500, 1000, 1500, 2000, 2500, 3000, 4000]
    assert found[-1].path is None and found[0].path.endswith("checkpoint-500")
    assert step_of("megatron_gpt--val_loss=2.50-step=1200-consumed_samples=64000.0") == 1200
    assert step_of("step_log.txt") is None


def test_readers_give_the_skip_and_checkpoint_evidence() -> None:
    fairseq = read_run(READERS / "fairseq" / "fsdp_13b_1gpu.log")
    skipped = fairseq.series["number of skipped updates"]
    assert skipped.values.tolist() == [0, 0, 2, 0, 0, 0, 0, 0, 0, 0]  # two overflows before update 3
    diag = diagnose_path(READERS / "fairseq" / "fsdp_13b_1gpu.log", SETTINGS)
    assert diag.metrics["skipped_steps"] == "number of skipped updates" and diag.metrics["loss_scale"] == "loss_scale"
    assert diag.stability.skips.share == pytest.approx(2 / 12)  # 2 skipped of 12 attempted updates
    assert diag.stability.scale.count == 1 and diag.stability.scale.lowest == 1  # 4 -> 1 at update 3
    megatron = read_run(READERS / "megatron" / "qwen7b_baseline_500_cut.log")
    assert set(megatron.checkpoints) == {500.0} and megatron.restores == []
