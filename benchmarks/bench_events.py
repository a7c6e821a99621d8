"""How the event detector scales with the excursions it finds: a long per-step loss whose
batch noise is heavy-tailed (Student t, 3 degrees of freedom) is full of excursions, and
each one's onset is placed by local work (its level's noise, a rank change point, a walk
past lone draws) that must stay local for the whole to stay near-linear.

    python benchmarks/bench_events.py [--points 1000000] [--reps 3]

Reported side by side in one run: `events_of` on the curve, and a trailing median of the
same curve over the point excursions' baseline window (the vectorised floor every long
log pays anyway), as the ratio of the two. A regression that made each excursion's work
grow with the log's length (a whole-prefix scan or sort per excursion) shows as a ratio
that grows with --points.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lossdoctor.engine import medians  # noqa: E402
from lossdoctor.engine.curves.events import events_of  # noqa: E402
from lossdoctor.engine.curves.excursions import POINT_BASE_SHARE  # noqa: E402


def curve(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A decaying loss under heavy-tailed batch noise, with a bad shard (a 300-step 40x
    jump) and a long 5x bump: thousands of excursions, two of them real."""
    rng = np.random.default_rng(seed)
    steps = np.arange(n, dtype=float)
    loss = (0.1 + 2 * np.exp(-steps / (n / 20))) * np.exp(rng.standard_t(3, n) * 0.3)
    loss[int(0.4 * n):int(0.4 * n) + 300] *= 40
    loss[int(0.7 * n):int(0.72 * n)] *= 5
    return steps, loss


def timed(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    steps, loss = curve(args.points)
    found = events_of(steps, loss)
    window = max(5, int(POINT_BASE_SHARE * args.points))
    t_events = timed(lambda: events_of(steps, loss), args.reps)
    t_floor = timed(lambda: medians.trailing(np.log(loss), window), args.reps)
    kinds = {k: sum(e.kind == k for e in found) for k in sorted({e.kind for e in found})}
    print(f"{args.points:,} points, {len(found)} events {kinds}")
    print(f"events_of        {t_events:7.2f} s")
    print(f"trailing median  {t_floor:7.2f} s  (window {window:,})")
    print(f"ratio            {t_events / t_floor:7.1f}x")


if __name__ == "__main__":
    main()
