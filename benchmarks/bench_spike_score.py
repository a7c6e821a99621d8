"""The spike score's cost on a million points, against OLMo's definition judged point by point.

`spike_flags` (lossdoctor.engine.curves.spike_score) works from running sums and re-judges
with the two-pass mean and standard deviation only the points its sums could get wrong;
on a flat stretch that is every point. This script times it, side by side in one run,
against the literal definition (for each point, the two-pass mean and population standard
deviation of the 128 values before it), on curves of N points: flat (every point re-judged),
flat at 1e300 (an overflowing variance), noisy, and noisy with spikes; and checks that both
flag the same points. Usage: python benchmarks/bench_spike_score.py [--points N] [--repeat R]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lossdoctor.engine.curves import spike_score as ss


def literal(x: np.ndarray) -> np.ndarray:
    """OLMo's definition, one point at a time (the reference; slow on purpose)."""
    flags = np.zeros(x.size, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(ss.WINDOW, x.size):
            w = x[i - ss.WINDOW : i]
            mean = w.mean()
            std = np.sqrt(((w - mean) ** 2).mean())
            flags[i] = std >= ss.MIN_STD and x[i] > mean + ss.THRESHOLD_STD * std
    return flags


def curves(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    noisy = 2.0 * np.exp(-np.arange(n) / (n / 5)) + 0.05 * rng.random(n)
    spiky = noisy.copy()
    spiky[rng.choice(n, 50, replace=False)] *= 20
    return {"flat 0.5": np.full(n, 0.5), "flat 1e300": np.full(n, 1e300), "noisy": noisy, "noisy + 50 spikes": spiky}


def best_of(repeat: int, fn, *args) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{'curve':20s} {'spike_flags':>12s} {'point by point':>15s} {'ratio':>8s}  same flags")
    for name, x in curves(args.points).items():
        fast, got = best_of(args.repeat, ss.spike_flags, x)
        slow, want = best_of(1, literal, x)
        print(f"{name:20s} {fast:11.3f}s {slow:14.3f}s {slow / fast:7.1f}x  {bool(np.array_equal(got, want))}")


if __name__ == "__main__":
    main()
