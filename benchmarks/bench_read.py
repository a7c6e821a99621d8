"""Read and diagnose big logs: lossdoctor against tbparse, EventAccumulator and the bytes floor.

Generates once (cached in benchmarks/out/, gitignored) TensorBoard event files of 1M and
5M scalar points (10 tags, one event per point) in both scalar styles, PyTorch
`simple_value` and TF2 float32 `tensor`, written with tensorboard's own record writer and
protos; a 5M-row CSV log and a 1M-line JSON-lines log. Then times, alternating, median of
REPS runs, each in a fresh subprocess (peak RSS from os.wait4 of that process):

  * reading: lossdoctor `read_run`, tbparse `SummaryReader(...).scalars` (1M only: ~40 s
    per 1M points), EventAccumulator(size_guidance={'scalars': 0, 'tensors': 0}) (TF2
    scalars are tensors to it; 1M only), the bytes;
    time is the work only, measured inside the subprocess after its imports;
  * `lossdoctor diagnose --format json` end to end (process wall time) on the 5M-point
    file, the 5M-row CSV and the 1M-line JSONL;
  * start-up: `lossdoctor diagnose examples/healthy/metrics.csv --format json` against
    `python -c "import pandas"` (10 runs each, median);
  * scale (`--parts scale`, heavy: one run each, one after the other, files written to a
    temp dir and deleted after; see `big_logs.py`): a 100M-point TensorBoard log (1M steps x
    100 tags, 5.1 GB) and a 10M-line JSON-lines log diagnosed end to end, and a 1M-row W&B
    run read (rows/s); each beside its byte floor (reading the file's bytes once).

    .venv/bin/python benchmarks/bench_read.py [--reps 3] [--generate-only] [--parts scale]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
PY = sys.executable
LOSSDOCTOR = str(Path(PY).with_name("lossdoctor"))
TAGS = ("train/loss", "val/loss", "lr", "grad_norm") + tuple(f"metrics/m{i}" for i in range(6))
SLOW_READERS_MAX = 1_000_000  # tbparse / EventAccumulator take ~40 s per 1M points


def _curves(steps: int) -> np.ndarray:
    """TAGS x steps float32 values: a noisy falling loss, a val loss, lr, grad norm, metrics."""
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, steps)
    loss = 0.3 + 2.0 * np.exp(-4 * x)
    rows = [loss * (1 + 0.05 * rng.standard_normal(steps)), loss * 1.05 + 0.01 * rng.standard_normal(steps),
            3e-4 * np.minimum(1, 20 * x) * (1 - x) + 1e-6, 1 + 0.2 * np.abs(rng.standard_normal(steps))]
    rows += [rng.random(steps) for _ in range(len(TAGS) - 4)]
    return np.asarray(rows, dtype=np.float32)


def write_events(path: Path, steps: int, tensor: bool) -> None:
    """One event per point (as SummaryWriter writes), steps outer, tags inner."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    values = _curves(steps)
    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        writer = RecordWriter(fh)
        writer.write(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
        for step in range(steps):
            for t, tag in enumerate(TAGS):
                v = values[t, step]
                if tensor:
                    tp = tensor_pb2.TensorProto(dtype=1, tensor_content=v.tobytes())
                    val = summary_pb2.Summary.Value(tag=tag, tensor=tp, metadata=meta)
                else:
                    val = summary_pb2.Summary.Value(tag=tag, simple_value=float(v))
                writer.write(event_pb2.Event(wall_time=1.7e9 + step * 0.01, step=step,
                                             summary=summary_pb2.Summary(value=[val])).SerializeToString())
    tmp.rename(path)


def write_csv(path: Path, rows: int) -> None:
    """A Lightning-style sparse CSV: step, train_loss, lr every row; val_loss every 100th row."""
    import pandas as pd

    v = _curves(rows)
    val = v[1].astype(np.float64)
    val[np.arange(rows) % 100 != 99] = np.nan  # written as empty cells: not logged
    pd.DataFrame({"epoch": np.arange(rows) // 10_000, "step": np.arange(rows), "train_loss": v[0],
                  "val_loss": val, "lr": v[2]}).to_csv(path.with_suffix(".tmp"), index=False)
    path.with_suffix(".tmp").rename(path)


def write_jsonl(path: Path, lines: int) -> None:
    """A Detectron2-style metrics.json: iteration, total_loss, two loss terms, lr."""
    v = _curves(lines)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        for i in range(lines):
            fh.write(f'{{"iteration": {i}, "total_loss": {v[0, i]:.6g}, "loss_cls": {v[0, i] * 0.6:.6g}, '
                     f'"loss_box_reg": {v[0, i] * 0.4:.6g}, "lr": {v[2, i]:.6g}}}\n')
    tmp.rename(path)


def files() -> dict[str, Path]:
    """Generate (once) and return every benchmark input by name."""
    OUT.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for millions in (1, 5):
        for style, tensor in (("simple_value", False), ("tf2_tensor", True)):
            p = out[f"tb_{style}_{millions}M"] = OUT / f"read_{style}_{millions}M.tfevents"
            if not p.exists():
                print(f"writing {p.name} ...", file=sys.stderr, flush=True)
                write_events(p, millions * 1_000_000 // len(TAGS), tensor)
    for name, maker, n in (("csv_5M", write_csv, 5_000_000), ("jsonl_1M", write_jsonl, 1_000_000)):
        p = out[name] = OUT / f"{name}.{name.split('_')[0]}"
        if not p.exists():
            print(f"writing {p.name} ...", file=sys.stderr, flush=True)
            maker(p, n)
    return out


# Each reader runs in a fresh interpreter: imports first, then the timed work, which prints
# "<seconds> <points>".
READERS = {
    "lossdoctor": ("from lossdoctor.sources import read_run",
                   "r = read_run(P); n = r.points"),
    "tbparse": ("from tbparse import SummaryReader",
                "n = len(SummaryReader(P).scalars)"),
    "EventAccumulator": ("from tensorboard.backend.event_processing.event_accumulator import EventAccumulator",
                         "ea = EventAccumulator(P, size_guidance={'scalars': 0, 'tensors': 0}); ea.Reload(); "
                         "n = sum(len(ea.Scalars(t)) for t in ea.Tags()['scalars']) "
                         "+ sum(len(ea.Tensors(t)) for t in ea.Tags()['tensors'])"),
    "bytes": ("", "n = len(open(P, 'rb').read())"),
}


def run_child(argv: list[str]) -> tuple[float, float, str]:
    """(wall s, peak RSS MB, stdout) of one fresh process."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    return wall, usage.ru_maxrss / 1024, out


def time_reader(reader: str, path: Path) -> tuple[float, float, int, float]:
    """(work seconds, peak RSS MB, points, work CPU seconds) of one reader on one file, in a
    fresh process. CPU time is the steadier figure on a shared machine."""
    setup, work = READERS[reader]
    code = (f"import time\n{setup}\nP = {str(path)!r}\nt, c = time.perf_counter(), time.process_time()\n"
            f"{work}\nprint(time.perf_counter() - t, n, time.process_time() - c)")
    _, rss, out = run_child([PY, "-c", code])
    seconds, n, cpu = out.split()
    return float(seconds), rss, int(n), float(cpu)


def median_runs(jobs: dict[str, callable], reps: int) -> dict[str, list]:
    """Run every job `reps` times, alternating between jobs; keep every result."""
    results: dict[str, list] = {k: [] for k in jobs}
    for _ in range(reps):
        for key, job in jobs.items():
            results[key].append(job())
    return results


def _med(rows: list, i: int) -> float:
    return statistics.median(r[i] for r in rows)


def bench_reading(inputs: dict[str, Path], reps: int) -> None:
    """The reading table: one line per (file, reader), then the ratios."""
    print("\n| file | size | reader | wall (median) | CPU (median) | points/s | peak RSS | lossdoctor speed-up (wall; CPU) |")
    print("|---|---|---|---|---|---|---|---|")
    for key in [k for k in inputs if k.startswith("tb_")]:
        path = inputs[key]
        millions = int(key.rsplit("_", 1)[1][:-1])
        readers = [r for r in READERS if r in ("lossdoctor", "bytes") or millions * 1e6 <= SLOW_READERS_MAX]
        readers = [r for r in readers if r != "tbparse" or _has("tbparse")]
        res = median_runs({r: (lambda r=r: time_reader(r, path)) for r in readers}, reps)
        ours, ours_cpu = _med(res["lossdoctor"], 0), _med(res["lossdoctor"], 3)
        points = res["lossdoctor"][0][2]
        for r in READERS:
            if r not in res:
                print(f"| {key} | | {r} | skipped | | | | |")
                continue
            t, rss, cpu = _med(res[r], 0), _med(res[r], 1), _med(res[r], 3)
            ratio = f"{t / ours:.1f}x; {cpu / ours_cpu:.1f}x" if r != "lossdoctor" else ""
            if r == "bytes":
                ratio = f"lossdoctor = {ours / t:.1f}x; {ours_cpu / max(cpu, 1e-6):.1f}x the floor"
            print(f"| {key} | {path.stat().st_size / 1e6:.0f} MB | {r} | {t:.3f} s | {cpu:.3f} s | "
                  f"{points / t / 1e6:.2f} M | {rss:.0f} MB | {ratio} |", flush=True)


def _has(module: str) -> bool:
    return subprocess.run([PY, "-c", f"import {module}"], capture_output=True).returncode == 0


def bench_diagnose(inputs: dict[str, Path], reps: int) -> None:
    """`lossdoctor diagnose --format json` end to end, process wall time and peak RSS."""
    print("\n| log | size | diagnose wall (median) | peak RSS |")
    print("|---|---|---|---|")
    keys = ("tb_simple_value_5M", "tb_tf2_tensor_5M", "csv_5M", "jsonl_1M")
    res = median_runs({k: (lambda k=k: run_child([LOSSDOCTOR, "diagnose", str(inputs[k]), "--format", "json",
                                                   "--fail-on", "never"])) for k in keys}, reps)
    for k in keys:
        print(f"| {k} | {inputs[k].stat().st_size / 1e6:.0f} MB | {_med(res[k], 0):.2f} s | "
              f"{_med(res[k], 1):.0f} MB |", flush=True)


def bench_startup(runs: int = 10) -> None:
    """A 300-row CSV diagnosed end to end against the bare `import pandas`."""
    small = ROOT / "examples" / "healthy" / "metrics.csv"
    jobs = {"python -c 'import pandas'": lambda: run_child([PY, "-c", "import pandas"]),
            f"lossdoctor diagnose {small.relative_to(ROOT)} --format json":
                lambda: run_child([LOSSDOCTOR, "diagnose", str(small), "--format", "json", "--fail-on", "never"])}
    res = median_runs(jobs, runs)
    base = _med(res["python -c 'import pandas'"], 0)
    print(f"\n| start-up ({runs} runs, median) | wall | peak RSS | vs import pandas |")
    print("|---|---|---|---|")
    for k in jobs:
        print(f"| `{k}` | {_med(res[k], 0) * 1000:.0f} ms | {_med(res[k], 1):.0f} MB | {_med(res[k], 0) / base:.2f}x |")


def _floor(path: Path) -> tuple[float, float]:
    """(wall s, peak RSS MB) of reading the file's bytes once, 64 MB at a time, in a fresh process."""
    code = (f"import time\nt = time.perf_counter()\nb = bytearray(64 << 20)\n"
            f"with open({str(path)!r}, 'rb', buffering=0) as f:\n    while f.readinto(b): pass\n"
            f"print(time.perf_counter() - t)")
    _, rss, out = run_child([PY, "-c", code])
    return float(out), rss


def _timed(argv: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one fresh process."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def bench_scale() -> None:
    """The three big logs of issue 16, one at a time, each deleted after it is measured."""
    import shutil
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    import big_logs

    print("\n| log | size | diagnose wall | CPU (user+sys) | peak RSS | byte floor | target |")
    print("|---|---|---|---|---|---|---|")
    work = Path(tempfile.mkdtemp(prefix="lossdoctor-scale-"))
    try:
        big_logs.check_events(work)
        steps, need = 1_000_000, 5.2e9
        free = shutil.disk_usage(work).free
        if free < need * 1.2:  # say so, and measure the largest that fits
            steps = int(steps * free / (need * 1.2))
            print(f"(only {free / 1e9:.1f} GB free: {steps:,} steps instead of 1,000,000)")
        jobs = [("tensorboard 100M points (1M steps x 100 tags)", "tb.tfevents",
                 lambda p: big_logs.write_big_events(p, steps, 100), "< 60 s, < 2 GB"),
                ("jsonl 10M lines", "metrics.jsonl", lambda p: big_logs.write_big_jsonl(p, 10_000_000), "< 30 s")]
        for label, name, make, target in jobs:
            path = work / name
            make(path)
            floor, _ = _floor(path)
            wall, cpu, rss = _timed([LOSSDOCTOR, "diagnose", str(path), "--format", "json", "--fail-on", "never"])
            print(f"| {label} | {path.stat().st_size / 1e9:.2f} GB | {wall:.1f} s | {cpu:.1f} s | {rss:.0f} MB | "
                  f"{floor:.2f} s | {target} |", flush=True)
            path.unlink()
        if _has("wandb"):
            _bench_wandb(work, big_logs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench_wandb(work: Path, big_logs) -> None:
    """A 1M-row W&B run (written by wandb itself, ~2 minutes): rows read per second."""
    rows = 1_000_000
    log = big_logs.write_big_wandb(work, rows)
    floor, _ = _floor(log)
    code = (f"import time\nfrom lossdoctor.sources import read_run\nt = time.perf_counter()\n"
            f"r = read_run({str(log)!r})\nprint(time.perf_counter() - t, len(r.series['train/loss']))")
    _, rss, out = run_child([PY, "-c", code])
    seconds, n = out.split()
    wall, cpu, drss = _timed([LOSSDOCTOR, "diagnose", str(log), "--format", "json", "--fail-on", "never"])
    print(f"| wandb 1M history rows (read_run: {float(seconds):.1f} s = {int(n) / float(seconds) / 1e6:.2f} M rows/s, "
          f"{rss:.0f} MB) | {log.stat().st_size / 1e9:.2f} GB | {wall:.1f} s | {cpu:.1f} s | {drss:.0f} MB | "
          f"{floor:.2f} s | >= 1M rows/s |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--parts", default="startup,diagnose,reading", help="comma-separated subset (or scale)")
    args = ap.parse_args()
    if args.parts == "scale":
        print(f"{os.cpu_count()} cores; python {sys.version.split()[0]}")
        bench_scale()
        return
    inputs = files()
    if args.generate_only:
        return
    print(f"{os.cpu_count()} cores; python {sys.version.split()[0]}; reps {args.reps}")
    parts = args.parts.split(",")
    if "startup" in parts:
        bench_startup()
    if "diagnose" in parts:
        bench_diagnose(inputs, args.reps)
    if "reading" in parts:
        bench_reading(inputs, args.reps)


if __name__ == "__main__":
    main()
