"""A Megatron-style training log with injected loss spikes, and the rewind plan made of it.

    .venv/bin/python benchmarks/spiky_megatron.py [OUT]   # OUT/run/ (default: a temporary folder)

Megatron-LM cannot run here (it needs GPUs), so the log is written line for line in the
format of its `training_log` (the iteration line as Megatron-DeepSpeed prints it, as in
tests/data/readers/megatron/), every 10 iterations, with Megatron's checkpoint lines and
folders (`checkpoints/iter_0000500/`, `latest_checkpointed_iteration.txt`) every 500.

The run (6,000 iterations, a GPT-like loss from 10.8 falling to ~2.6, 1% batch noise):
- iteration 2,000: a spike to 3.5x that is back within 100 iterations, the gradient norm
  bursting 20 iterations before it;
- iteration 3,500: a spike to 2x (below the 3x the loss_spike rule asks; above OLMo's
  6 sigma) that takes 200 iterations to come back, the grad norm bursting 30 before;
- iteration 5,200: a climb that never comes back (a divergence).
Spikes recur, so the plan rewinds past all three: restart from the checkpoint of
iteration 1,500 (the last one at least 100 iterations before 2,000) and skip each spike.
`write_lines` and `iteration_line` are reused by the tests (tests/test_large_runs.py).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

EVERY = 10
TOTAL = 6000
SAVE_EVERY = 500
# (iteration, height x the loss, iterations to come back (None: never), grad lead in iterations)
SPIKES = ((2000, 3.5, 100, 20), (3500, 2.0, 200, 30), (5200, 4.0, None, 20))


def iteration_line(it: int, total: int, loss: float | None, grad: float, lr: float = 3e-4,
                   scale: float = 1.0, skipped: int = 0, nan: int = 0, batch: int = 512) -> str:
    """One iteration line, spelled as Megatron prints it (a loss of None: left out, as
    Megatron does when every iteration of the interval was skipped)."""
    parts = [f" iteration {it:8d}/{total:8d} |", f" consumed samples: {it * batch:12d} |",
             " elapsed time per iteration (ms): 1234.5 |", f" learning rate: {lr:.3E} |",
             f" global batch size: {batch:5d} |"]
    if loss is not None:
        parts.append(f" lm loss: {loss:.6E} |")
    parts += [f" loss scale: {scale:.1f} |", f" grad norm: {grad:.3f} |",
              f" number of skipped iterations: {skipped:3d} |", f" number of nan iterations: {nan:3d} |"]
    return "".join(parts)


def saved_lines(it: int, folder: str) -> list[str]:
    return [f"saving checkpoint at iteration {it:7d} to {folder}",
            f"  successfully saved checkpoint at iteration {it:7d} to {folder}"]


def curves(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(iterations, loss, grad norm) of the run, spikes injected."""
    rng = np.random.default_rng(seed)
    its = np.arange(EVERY, TOTAL + 1, EVERY)
    loss = (2.5 + 8.3 * np.exp(-its / 600.0)) * np.exp(rng.normal(0, 0.01, its.size))
    grad = (0.3 + 2.0 * np.exp(-its / 400.0)) * np.exp(rng.normal(0, 0.05, its.size))
    for at, height, back, lead in SPIKES:
        i = int(np.searchsorted(its, at))
        if back is None:
            loss[i:] *= np.minimum(height, 1 + (its[i:] - at) / 100.0)
            grad[i - lead // EVERY:] *= 6.0
            continue
        k = back // EVERY
        loss[i:i + k] *= 1 + (height - 1) * np.linspace(1, 0, k) ** 2
        g = i - lead // EVERY
        grad[g:g + 3] *= 8.0
    return its, loss, grad


def write_lines(seed: int = 0, ckpt: str = "/ckpt/gpt") -> list[str]:
    """The log's lines: a short preamble, the iterations, checkpoint saves every 500."""
    its, loss, grad = curves(seed)
    lines = ["------------------------ arguments ------------------------",
             "  save ............................................ " + ckpt,
             "-------------------- end of arguments ---------------------", "training ..."]
    for it, x, g in zip(its, loss, grad):
        lines.append(iteration_line(int(it), TOTAL, float(x), float(g)))
        if it % SAVE_EVERY == 0:
            lines += saved_lines(int(it), ckpt)
    return lines


def spiky_run(folder: Path, seed: int = 0) -> Path:
    """Write the run folder (train.log, checkpoints/iter_*/) and return the log's path."""
    folder.mkdir(parents=True, exist_ok=True)
    ckpts = folder / "checkpoints"
    for it in range(SAVE_EVERY, TOTAL + 1, SAVE_EVERY):
        (ckpts / f"iter_{it:07d}").mkdir(parents=True, exist_ok=True)
    (ckpts / "latest_checkpointed_iteration.txt").write_text(f"{TOTAL}\n")
    log = folder / "train.log"
    log.write_text("\n".join(write_lines(seed, str(ckpts))) + "\n", encoding="utf-8")
    return log


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="spiky-megatron-"))
    log = spiky_run(out / "run")
    plan = out / "plan"
    cmd = [sys.executable, "-m", "lossdoctor", "diagnose", str(log), "--rewind-plan", str(plan), "--fail-on", "never"]
    print("$ lossdoctor diagnose", log, "--rewind-plan", plan)
    subprocess.run(cmd, check=False)
    for name in ("megatron_args.txt", "rewind_plan.json"):
        print(f"\n$ cat {plan / name}\n" + (plan / name).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
