"""False alarms on healthy trainings made of noise: a check that needs no labels.

    python benchmarks/null_runs.py [--seeds N] [--verbose] [--missing auto|na|nan]

Each run is a smooth healthy curve (an exponential fall to a floor, the validation loss a
few percent above it, evaluated once an epoch) times noise, diagnosed as a pandas frame
the way `lossdoctor.diagnose(df)` reads one. Nothing is wrong with any of them, so every
warning or error is a false alarm. Families:

- per-step: 30 epochs of 100 steps, logged every step, every 10th (means) or once an epoch;
  batch noise in log units of 0.05, 0.2 or 0.5, logged as it is (normal) or as a running
  mean (an EMA at 0.9, as some loggers write it: AR(1) noise that wanders).
- converged: a memorised model's per-step losses, flat at 0.01 with batches spread 0.5 or
  0.8 in log units, over 2 or 20 epochs of a run resumed late.
- epoch: 8, 30 or 100 epochs of epoch-mean training loss (noise 0.01-0.02) and a validation
  loss with noise 0.01-0.15 per evaluation, fast or slow falls, floors at 0.05 or 0.5.
- shapes: a step-decay schedule (drops at epochs 30 and 60), a warm-up bump (+20% over the
  first 2% of the run), per step or every 10th.

A validation loss that moves 15% per evaluation while the training loss has settled is
reported as oscillation (the rule's reading: the weights swing, a fixed validation set does
not change by itself); the table shows that family apart. Heavy-tailed batches (t(3)) are
not here: a batch 100x its level is a spike by any reading.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import lossdoctor  # noqa: E402

STEPS_PER_EPOCH = 100


def _fall(t: np.ndarray, start: float, floor: float, tau: float) -> np.ndarray:
    return floor + (start - floor) * np.exp(-t / tau)


def _noise(kind: str, sigma: float, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "normal":
        return rng.normal(0.0, sigma, n)
    # A logged running mean (an EMA at 0.9) of batch noise of spread sigma: AR(1) at 0.9,
    # wandering with a spread of sigma * sqrt(0.1 / 1.9) = 0.23 sigma.
    e = rng.normal(0.0, sigma, n)
    x = np.zeros(n)
    for i in range(1, n):
        x[i] = 0.9 * x[i - 1] + 0.1 * e[i]
    return x


def _frame(train: np.ndarray, every: int, val_steps: np.ndarray, val: np.ndarray, first: int = 1) -> pd.DataFrame:
    """A sparse frame as W&B's history or pd.read_csv of a Lightning metrics.csv has it."""
    steps = np.arange(first, first + train.size)
    rows = pd.DataFrame({"step": steps[every - 1::every], "train_loss": train.reshape(-1, every).mean(axis=1)})
    return pd.merge(rows, pd.DataFrame({"step": val_steps, "val_loss": val}), on="step", how="outer").sort_values("step")


def per_step(seed: int):
    for kind, sigma, every in itertools.product(["normal", "ema"], [0.05, 0.2, 0.5], [1, 10, 100]):
        rng = np.random.default_rng(seed)
        t = np.arange(1, 30 * STEPS_PER_EPOCH + 1) / STEPS_PER_EPOCH
        train = _fall(t, 2.3, 0.3, 6.0) * np.exp(_noise(kind, sigma, t.size, rng))
        ev = np.arange(1, 31) * STEPS_PER_EPOCH
        val = _fall(ev / STEPS_PER_EPOCH, 2.3, 0.3, 6.0) * 1.05 * np.exp(rng.normal(0.0, 0.01, ev.size))
        yield f"per-step {kind}", f"per-step {kind} {sigma} every {every}", _frame(train, every, ev, val)


def converged(seed: int):
    """A memorised model's per-step losses: flat at 0.01, the batches spread 0.5 or 0.8 in
    log units (most near 0, now and then one with a hard sample), 2 or 20 epochs of them,
    logged from step 20,000 on (a run resumed late: a log that flat from its first step is
    a model that does not learn)."""
    for sigma, epochs in itertools.product([0.5, 0.8], [2, 20]):
        rng = np.random.default_rng(seed)
        train = 0.01 * np.exp(rng.normal(0.0, sigma, epochs * STEPS_PER_EPOCH))
        ev = 20_000 + np.arange(epochs) * STEPS_PER_EPOCH + STEPS_PER_EPOCH - 1
        # a mean over samples, as the batches' is: 1.2x their mean (exp(sigma^2/2) x 0.01)
        val = 1.2 * 0.01 * np.exp(sigma ** 2 / 2) * np.exp(rng.normal(0.0, 0.01, epochs))
        yield "per-step converged", f"per-step converged {sigma}, {epochs} epochs", _frame(train, 1, ev, val, first=20_000)


def epoch(seed: int):
    for epochs, tau, sig_v, gap, floor in itertools.product([8, 30, 100], [0.1, 0.3], [0.01, 0.05, 0.15],
                                                          [1.0, 1.1], [0.05, 0.5]):
        rng = np.random.default_rng(seed)
        e = np.arange(1, epochs + 1, dtype=float)
        train = _fall(e - 0.5, 2.3, floor, tau * epochs) * np.exp(rng.normal(0.0, min(sig_v, 0.02), epochs))
        val = _fall(e, 2.3, floor, tau * epochs) * gap * np.exp(rng.normal(0.0, sig_v, epochs))
        family = "epoch, val noise 0.15" if sig_v >= 0.15 else "epoch"
        name = f"epoch {epochs}, fall {tau}, val noise {sig_v}, gap {gap}, floor {floor}"
        yield family, name, pd.DataFrame({"loss": train, "val_loss": val}, index=e - 1)


def shapes(seed: int):
    t = np.arange(1, 90 * STEPS_PER_EPOCH + 1) / STEPS_PER_EPOCH
    curves = {
        "step decay": np.where(t < 30, 1.0, np.where(t < 60, 0.6, 0.45)) + 1.5 * np.exp(-t / 3),
        "warm-up bump": (0.3 + 2.0 * np.exp(-t / 10)) * (1 + 0.2 * np.sin(np.pi * np.clip(t / 2, 0, 1))),
    }
    for (name, smooth), sigma, every in itertools.product(curves.items(), [0.05, 0.2], [1, 10]):
        rng = np.random.default_rng(seed)
        train = smooth * np.exp(rng.normal(0.0, sigma, smooth.size))
        ev = np.arange(1, 91) * STEPS_PER_EPOCH
        val = smooth[ev - 1] * 1.08 * np.exp(rng.normal(0.0, 0.01, ev.size))
        yield f"shape: {name}", f"shape: {name} {sigma} every {every}", _frame(train, every, ev, val)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--verbose", action="store_true", help="one line per false alarm")
    ap.add_argument("--missing", choices=["auto", "na", "nan"], default=None,
                    help="read the frames with Run.from_frame(missing=...); default: as diagnose(df) does")
    args = ap.parse_args()
    runs = collections.Counter()
    alarmed = collections.Counter()
    rules = collections.defaultdict(collections.Counter)
    for seed in range(args.seeds):
        for family, name, frame in itertools.chain(per_step(seed), converged(seed), epoch(seed), shapes(seed)):
            diag = lossdoctor.diagnose(frame if args.missing is None else lossdoctor.Run.from_frame(frame, missing=args.missing))
            loud = [f for f in diag.findings if f.severity.name.lower() in ("warning", "error")]
            runs[family] += 1
            if loud:
                alarmed[family] += 1
                for f in loud:
                    rules[family][f.rule] += 1
                    if args.verbose:
                        print(f"  {name} seed {seed}: {f.rule}: {f.message[:160]}")
    print(f"{'family':28s} {'runs':>5s} {'warned':>7s}  rules")
    for family in runs:
        said = ", ".join(f"{r} {c}" for r, c in sorted(rules[family].items()))
        print(f"{family:28s} {runs[family]:5d} {alarmed[family]:7d}  {said}")
    print(f"{'all':28s} {sum(runs.values()):5d} {sum(alarmed.values()):7d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
