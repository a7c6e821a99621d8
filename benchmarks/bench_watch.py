"""How live the live parts are: `watch`'s latency and CPU use, a callback's cost per step.

    python benchmarks/bench_watch.py [--parts latency,cpu,callback] [--seconds 30]

latency   A writer process appends CSV rows; at a random moment it writes a NaN and notes
          the time; `lossdoctor watch --format jsonl --interval I` runs beside it and the
          time its `nan_loss` event is read is noted. Goal: under I + 0.5 s.
cpu       `watch` (default interval, 5 s) on a log growing at 1,000 points/s (a CSV of 10
          metrics at 100 rows/s; TensorBoard: 1,000 scalars/s from EventFileWriter): the
          watch process's CPU time (/proc) over the window after its start-up, divided by
          the window. Goal: under 3% of one core.
callback  Keras 3 (torch backend) fits a tiny MLP on CPU with and without the LossDoctor
          callback at its default judging frequency, alternately; the time spent inside the
          callback's hooks is measured directly (the thread's CPU time around each call, so
          that another process taking the core meanwhile is not counted), and the
          wall-time ratio of the two fits is reported beside it. Goal: under 1%.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _watch(path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lossdoctor", "watch", str(path), "--format", "jsonl", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)


def _loss(i: int) -> float:
    return 2.0 * math.exp(-i / 40) + 0.1 + 0.01 * math.sin(i)


def latency_once(interval: float, rows_per_s: float = 50.0) -> float:
    """Seconds from the NaN row's flush to the nan_loss event read from watch's stdout."""
    folder = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    log = folder / "training.csv"
    log.write_text("step,loss\n")
    proc = _watch(log, "--interval", str(interval), "--fail-on", "nan_loss")
    seen: dict[str, float] = {}

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            ev = json.loads(line)
            if ev["event"] == "finding" and ev["rule"] == "nan_loss":
                seen["t"] = time.time()
                return
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    written = 0.0
    with open(log, "a") as f:
        nan_at = int(rows_per_s * (3 + random.random() * interval))  # a random phase against the ticks
        for i in range(nan_at + 1):
            f.write(f"{i},{'nan' if i == nan_at else _loss(i)}\n")
            f.flush()
            if i == nan_at:
                written = time.time()
            time.sleep(1 / rows_per_s)
    reader.join(timeout=interval + 30)
    proc.kill()
    proc.wait()
    return seen["t"] - written


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _grow_csv(path: Path, stop: threading.Event) -> None:
    names = [f"m{k}" for k in range(9)]
    with open(path, "w") as f:
        f.write("step,loss," + ",".join(names) + "\n")
        i, start = 0, time.perf_counter()
        while not stop.is_set():
            f.write(f"{i},{_loss(i)}," + ",".join(f"{_loss(i + k):.6f}" for k in range(9)) + "\n")
            f.flush()
            i += 1
            time.sleep(max(0.0, start + i / 100 - time.perf_counter()))  # 100 rows of 10 points per second


def _grow_tb(folder: Path, stop: threading.Event) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(folder), flush_secs=1)
    i, start = 0, time.perf_counter()
    while not stop.is_set():
        value = summary_pb2.Summary.Value(tag="loss", simple_value=_loss(i))
        writer.add_event(event_pb2.Event(step=i, wall_time=time.time(), summary=summary_pb2.Summary(value=[value])))
        i += 1
        if i % 100 == 0:
            time.sleep(max(0.0, start + i / 1000 - time.perf_counter()))  # 1,000 points per second
    writer.close()


def cpu_share(kind: str, seconds: float) -> tuple[float, int]:
    """(watch's CPU share of one core over `seconds` after start-up, points logged meanwhile)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    target = folder / ("training.csv" if kind == "csv" else "tb")
    if kind == "tb":
        target.mkdir()
    stop = threading.Event()
    writer = threading.Thread(target=_grow_csv if kind == "csv" else _grow_tb, args=(target, stop), daemon=True)
    writer.start()
    time.sleep(1.0)
    proc = _watch(target)  # default --interval 5
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()  # type: ignore[arg-type]
    time.sleep(6.0)  # start-up (imports, first read) is not the steady state being measured
    cpu0, t0 = _cpu_seconds(proc.pid), time.perf_counter()
    time.sleep(seconds)
    cpu1, t1 = _cpu_seconds(proc.pid), time.perf_counter()
    if proc.poll() is not None:
        raise SystemExit(f"watch ended early (exit {proc.returncode}): {lines[-1][:200] if lines else ''}")
    stop.set()
    writer.join()
    proc.kill()
    proc.wait()
    return (cpu1 - cpu0) / (t1 - t0), int((t1 - t0) * 1000)


def callback_overhead(repeats: int = 3) -> dict[str, float]:
    """Share of a tiny Keras fit spent in LossDoctor's hooks, and the with/without wall ratio."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import numpy as np

    from lossdoctor.integrations.keras import LossDoctor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4096, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)) / np.sqrt(8)).astype("float32")

    def fit(callbacks: list) -> float:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
        start = time.perf_counter()
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=callbacks)
        return time.perf_counter() - start

    fit([])  # warm-up: first-call compilation and caches
    inside, plain, with_cb, steps, judged = [], [], [], 0, 0
    for _ in range(repeats):
        plain.append(fit([]))
        cb = LossDoctor(verbose=0)
        spent = [0.0]
        for hook in ("on_train_batch_end", "on_epoch_end"):
            real = getattr(cb, hook)

            def timed(*a, _real=real, **k):  # type: ignore[no-untyped-def]
                t = time.thread_time()  # this thread's CPU: a preemption by another process is not the callback's
                _real(*a, **k)
                spent[0] += time.thread_time() - t
            setattr(cb, hook, timed)
        total = fit([cb])
        with_cb.append(total)
        inside.append(spent[0] / total)
        steps, judged = cb.step, len(cb.judge.judgements)
    step_ms = 1000 * statistics.median(plain) / steps
    return {"step_ms": step_ms, "steps": steps, "judgements": judged,
            "in_callback": statistics.median(inside),
            "wall_ratio": statistics.median(with_cb) / statistics.median(plain)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="latency,cpu,callback")
    parser.add_argument("--seconds", type=float, default=30.0, help="CPU measuring window per format")
    parser.add_argument("--trials", type=int, default=5, help="latency trials per interval")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if "latency" in parts:
        for interval in (1.0, 5.0):
            got = [latency_once(interval) for _ in range(args.trials if interval < 5 else 3)]
            print(f"latency, --interval {interval:g}: median {statistics.median(got):.2f} s, "
                  f"max {max(got):.2f} s (goal < {interval + 0.5:.1f} s) over {len(got)} trials", flush=True)
    if "cpu" in parts:
        for kind in ("csv", "tb"):
            share, points = cpu_share(kind, args.seconds)
            print(f"cpu, {kind} at 1,000 points/s, default interval: {100 * share:.2f}% of one core "
                  f"over {args.seconds:g} s (~{points:,} points; goal < 3%)", flush=True)
    if "callback" in parts:
        r = callback_overhead()
        print(f"callback (Keras, torch backend, tiny MLP, {r['steps']:,} steps of {r['step_ms']:.2f} ms, "
              f"{r['judgements']} judgements): {100 * r['in_callback']:.2f}% of the fit inside the callback; "
              f"wall time with/without {r['wall_ratio']:.3f} (goal < 1%)", flush=True)


if __name__ == "__main__":
    main()
