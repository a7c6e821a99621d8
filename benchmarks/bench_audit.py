"""Time `lossdoctor audit` on a tree of many small runs against a read-only floor.

    .venv/bin/python benchmarks/bench_audit.py [--runs 10000] [--jobs 2] [--repeat 3]
    .venv/bin/python benchmarks/bench_audit.py --base /tmp/ld_base     # before/after, side by side
    .venv/bin/python benchmarks/bench_audit.py --store [--runs 10000]  # local vs S3 (moto) vs dask

Generates (once; kept under benchmarks/out/, gitignored) a tree of small runs of mixed
layouts: Keras CSV, Lightning version_N/metrics.csv, HF checkpoint-*/trainer_state.json,
YOLO runs/train*/results.csv, JSONL, MLflow file-store runs, a few TensorBoard event
files written with the tensorboard package's own writer, and a 5% share of corrupted
logs. Then reports the median of `--repeat` timings of:
  - discovery alone (in-process `discover()`),
  - `lossdoctor audit ROOT --format json --jobs N` as a subprocess (stdout to /dev/null),
  - the floor: a plain single-process loop that only reads the same files with pandas/json.

`--base DIR` also times the same audit with another checkout's lossdoctor (e.g. `git archive
main | tar -x -C DIR`, plus `ln -s ../rules DIR/lossdoctor/rulebook`), alternating the two,
and reports new/base. `--store` uploads the tree to a moto S3 server (a subprocess on
127.0.0.1) and times, side by side: the local audit, the audit of `s3://bench/tree`, the
same with `--engine dask` (a LocalCluster of --jobs worker processes, start-up included),
and the store's floor: list the prefix once and GET every log file with 64 requests in
flight, diagnosing nothing. Each audit records to JSON lines (`-o /dev/null`); the
coordinator's peak RSS is sampled (psutil) so 10,000 and 100,000 runs can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "audit_tree"  # 10,000 runs; other counts get audit_tree_<runs>
SHARES = (("keras", 25), ("lightning", 20), ("hf", 15), ("yolo", 15), ("jsonl", 10), ("mlflow", 9.5),
          ("tensorboard", 0.5))  # percent of the runs; 5% corrupted ones come on top (keras fills up)


def curves(rng: random.Random, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A train curve that falls and a val curve that falls, then (sometimes) rises or blows up."""
    x = np.arange(n, dtype=float)
    train = 2.0 * np.exp(-x / (n / 4)) + 0.1 + np.array([rng.gauss(0, 0.02) for _ in x])
    kind = rng.choice(("fit", "overfit", "diverge", "flat"))
    val = train + 0.05
    if kind == "overfit":
        val = val + np.maximum(0, x - n / 2) * 0.02
    elif kind == "diverge":
        val = val + np.where(x > 0.7 * n, np.exp((x - 0.7 * n) / 3), 0)
    elif kind == "flat":
        train, val = train * 0 + 1.0 + x * 0, train * 0 + 1.1
        train = train + np.array([rng.gauss(0, 0.01) for _ in x])
    return train, val


def write_keras(d: Path, rng: random.Random, i: int) -> list[Path]:
    n = rng.randint(20, 80)
    t, v = curves(rng, n)
    f = d / f"keras_{i}" / "training_log.csv"
    f.parent.mkdir(parents=True)
    pd.DataFrame({"epoch": range(n), "accuracy": 1 - t / 3, "loss": t, "val_accuracy": 1 - v / 3,
                  "val_loss": v}).to_csv(f, index=False)
    return [f]


def write_lightning(d: Path, rng: random.Random, i: int) -> list[Path]:
    n = rng.randint(20, 60)
    t, v = curves(rng, n)
    f = d / f"pl_{i}" / "lightning_logs" / "version_0" / "metrics.csv"
    f.parent.mkdir(parents=True)
    rows = []
    for e in range(n):
        rows.append({"epoch": e, "step": e * 10 + 9, "train_loss": t[e], "val_loss": None})
        rows.append({"epoch": e, "step": e * 10 + 9, "train_loss": None, "val_loss": v[e]})
    pd.DataFrame(rows).to_csv(f, index=False)
    (f.parent / "hparams.yaml").write_text("lr: 0.001\n")
    return [f]


def write_hf(d: Path, rng: random.Random, i: int) -> list[Path]:
    n = rng.randint(20, 60)
    t, v = curves(rng, n)
    out = d / f"hf_{i}"
    files = []
    for k in (n // 3, 2 * n // 3, n):  # the newest checkpoint holds the whole history
        ck = out / f"checkpoint-{k * 50}"
        ck.mkdir(parents=True)
        hist = []
        for s in range(k):
            hist.append({"epoch": s / 10, "step": (s + 1) * 50, "loss": float(t[s]), "learning_rate": 2e-5})
            hist.append({"epoch": s / 10, "step": (s + 1) * 50, "eval_loss": float(v[s])})
        (ck / "trainer_state.json").write_text(json.dumps({"global_step": k * 50, "log_history": hist}))
        (ck / "config.json").write_text('{"model_type": "bert"}')
        files.append(ck / "trainer_state.json")
    return files[-1:]


def write_yolo(d: Path, rng: random.Random, i: int) -> list[Path]:
    n = rng.randint(20, 80)
    t, v = curves(rng, n)
    f = d / f"yolo_{i}" / "runs" / "detect" / "train" / "results.csv"
    f.parent.mkdir(parents=True)
    cols = {"epoch": range(n), "train/box_loss": t / 2, "train/cls_loss": t / 3, "train/dfl_loss": t / 6,
            "metrics/mAP50(B)": 1 - v / 3, "val/box_loss": v / 2, "val/cls_loss": v / 3, "val/dfl_loss": v / 6}
    df = pd.DataFrame(cols)
    df.columns = [c.rjust(20) for c in df.columns]  # YOLO pads its header
    df.to_csv(f, index=False)
    (f.parent / "weights").mkdir()
    (f.parent / "weights" / "best.pt").write_bytes(b"\x80\x02fake")
    return [f]


def write_jsonl(d: Path, rng: random.Random, i: int) -> list[Path]:
    n = rng.randint(20, 80)
    t, v = curves(rng, n)
    f = d / f"det_{i}" / "metrics.jsonl"
    f.parent.mkdir(parents=True)
    f.write_text("".join(json.dumps({"iteration": s * 20, "total_loss": t[s], "validation_loss": v[s]}) + "\n"
                         for s in range(n)))
    return [f]


def write_mlflow(d: Path, rng: random.Random, i: int) -> list[Path]:
    n = rng.randint(20, 60)
    t, v = curves(rng, n)
    run = d / "mlruns" / str(i % 20) / f"{i:032x}"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text(f"run_id: {i:032x}\nlifecycle_stage: active\n")
    files = []
    for name, values in (("train_loss", t), ("val_loss", v)):
        f = run / "metrics" / name
        f.write_text("".join(f"{1700000000000 + s} {values[s]} {s}\n" for s in range(n)))
        files.append(f)
    return files


def write_tensorboard(d: Path, rng: random.Random, i: int) -> list[Path]:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    n = rng.randint(50, 200)
    t, v = curves(rng, n)
    folder = d / f"tb_{i}"
    writer = EventFileWriter(str(folder))
    for s in range(n):
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="train/loss", simple_value=t[s]),
                                             summary_pb2.Summary.Value(tag="val/loss", simple_value=v[s])])
        writer.add_event(event_pb2.Event(wall_time=1.7e9 + s, step=s, summary=summary))
    writer.close()
    return sorted(folder.iterdir())


def write_corrupt(d: Path, rng: random.Random, i: int) -> list[Path]:
    kind = i % 3
    folder = d / f"broken_{i}"
    folder.mkdir(parents=True)
    if kind == 0:
        f = folder / "training_log.csv"
        f.write_bytes(bytes(rng.randrange(256) for _ in range(400)))
    elif kind == 1:
        f = folder / "trainer_state.json"
        f.write_text('{"log_history": [{"loss": 1.0, "step": 1}, {"lo')
    else:
        f = folder / "history.csv"
        f.write_text("epoch,accuracy\n0,0.5\n1,0.6\n")  # no loss column: nothing to diagnose
    return [f]


WRITERS = {"keras": write_keras, "lightning": write_lightning, "hf": write_hf, "yolo": write_yolo,
           "jsonl": write_jsonl, "mlflow": write_mlflow, "tensorboard": write_tensorboard,
           "corrupt": write_corrupt}


def generate(root: Path, runs: int, seed: int = 0) -> list[tuple[str, list[str]]]:
    """Write the tree (or reuse it) and return the manifest: (kind, files) per run."""
    stamp = root / "manifest.json"
    if stamp.exists():
        manifest = json.loads(stamp.read_text())
        if manifest["runs"] == runs:
            return manifest["items"]
    if root.exists():
        import shutil

        shutil.rmtree(root)
    rng = random.Random(seed)
    corrupt = runs // 20
    kinds = [k for k, share in SHARES for _ in range(int(runs * share / 100))][:runs - corrupt]
    kinds += ["keras"] * (runs - corrupt - len(kinds)) + ["corrupt"] * corrupt
    rng.shuffle(kinds)
    items = []
    for i, kind in enumerate(kinds):
        group = root / "experiments" / f"team{i % 7}" / f"batch{i // 500}"
        files = WRITERS[kind](group, rng, i)
        items.append((kind, [str(f) for f in files]))
    (root / "experiments" / "README.md").write_text("not a log\n")
    stamp.write_text(json.dumps({"runs": runs, "items": items}))
    return items


def floor(items: list[tuple[str, list[str]]]) -> None:
    """Only read the same files: pandas for tables, json for JSON, the tensorboard loader."""
    for kind, files in items:
        for f in files:
            try:
                if kind == "tensorboard":
                    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

                    list(EventFileLoader(f).Load())
                elif kind == "mlflow":
                    pd.read_csv(f, sep=" ", header=None)
                elif f.endswith(".jsonl"):
                    [json.loads(line) for line in Path(f).read_text().splitlines()]
                elif f.endswith(".json"):
                    json.loads(Path(f).read_text())
                else:
                    pd.read_csv(f)
            except Exception:  # noqa: BLE001 - corrupted files are part of the tree
                pass


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def tree_for(runs: int) -> Path:
    return OUT if runs == 10_000 else OUT.with_name(f"audit_tree_{runs}")


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MB of the command's own process: the coordinator, CPU
    seconds of it and every process it waited for: less shaken by other load than wall)."""
    import resource

    import psutil  # comes with distributed (the dask extra)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # From a neutral folder: `python -m` puts the working folder first on sys.path.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, cwd=tempfile.gettempdir())
    peak = 0
    watched = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    return wall, peak / 2**20, cpu


def audit_cmd(root: str, jobs: int, fmt: str = "jsonl", *extra: str) -> list[str]:
    out = ["-o", os.devnull] if fmt in ("jsonl", "parquet") else []
    return [sys.executable, "-m", "lossdoctor", "audit", root, "--format", fmt, "--jobs", str(jobs), *out, *extra]


def side_by_side(cases: dict[str, tuple[list[str], dict[str, str]]], repeat: int, runs: int) -> dict[str, float]:
    """Run the cases in turn, `repeat` rounds; print median wall, runs/s and peak coordinator RSS."""
    walls: dict[str, list[float]] = {k: [] for k in cases}
    rss: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeat):
        for name, (cmd, env) in cases.items():
            wall, peak, cpu = run_measured(cmd, env)
            walls[name].append(wall)
            rss[name].append(peak)
            cpus[name].append(cpu)
    medians = {}
    for name in cases:
        medians[name] = statistics.median(walls[name])
        medians[name + " cpu"] = statistics.median(cpus[name])
        print(f"{name:>28}: median {medians[name]:7.2f} s ({', '.join(f'{t:.2f}' for t in walls[name])})  "
              f"{runs / medians[name]:6.0f} runs/s  CPU {medians[name + ' cpu']:6.1f} s  "
              f"coordinator RSS {max(rss[name]):6.0f} MB", flush=True)
    return medians


def compare_base(root: Path, base: str, jobs: int, repeat: int, runs: int) -> None:
    """The same audit with this checkout and with `base`, alternating, --format json and jsonl."""
    mine = {"PYTHONPATH": str(HERE.parent)}
    theirs = {"PYTHONPATH": base}
    cases = {"base --format json": (audit_cmd(str(root), jobs, "json"), theirs),
             "this --format json": (audit_cmd(str(root), jobs, "json"), mine),
             "this --format jsonl": (audit_cmd(str(root), jobs, "jsonl"), mine)}
    med = side_by_side(cases, repeat, runs)
    print(f"this/base (--format json): wall {med['this --format json'] / med['base --format json']:.3f}, "
          f"CPU {med['this --format json cpu'] / med['base --format json cpu']:.3f}")


# --- an S3 store on this machine ----------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, dict[str, str]]:
    """moto's S3 server as a subprocess (its CPU apart from the client's), and the environment
    a user would set to reach it."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    os.environ.update(env)
    import socket

    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, env
        except OSError:
            time.sleep(0.05)
    raise SystemExit("moto server did not start")


def upload_tree(fs, root: Path, prefix: str) -> int:
    """Every file of the tree under `prefix`, a few thousand per batch (s3fs sends them concurrently)."""
    batch: dict[str, bytes] = {}
    count = 0
    for here, _, files in os.walk(root):
        for name in files:
            if name == "manifest.json":
                continue
            path = os.path.join(here, name)
            batch[f"{prefix}/{os.path.relpath(path, root)}"] = Path(path).read_bytes()
            if len(batch) >= 2000:
                fs.pipe(batch)
                count += len(batch)
                batch = {}
    fs.pipe(batch)
    return count + len(batch)


def store_floor(fs, prefix: str, items: list[tuple[str, list[str]]], root: Path) -> tuple[float, float, int]:
    """(list seconds, list + GET seconds, objects): list the prefix once, GET every log file."""
    start = time.perf_counter()
    keys = fs.find(prefix)
    listed = time.perf_counter() - start
    files = [f"{prefix}/{os.path.relpath(f, root)}" for _, fs_ in items for f in fs_]
    for i in range(0, len(files), 2000):
        fs.cat(files[i:i + 2000], batch_size=64)
    return listed, time.perf_counter() - start, len(keys)


def bench_store(runs: int, jobs: int, repeat: int) -> None:
    import fsspec

    items = generate(tree_for(runs), runs)
    root = tree_for(runs) / "experiments"
    moto, env = start_moto()
    try:
        fs = fsspec.filesystem("s3", use_listings_cache=False, skip_instance_cache=True)
        fs.mkdir("bench")
        t0 = time.perf_counter()
        objects = upload_tree(fs, root, "bench/tree")
        print(f"uploaded {objects} objects to moto in {time.perf_counter() - t0:.0f} s", flush=True)
        listed, floor_s, keys = statistics.median_low([store_floor(fs, "bench/tree", items, root)
                                                       for _ in range(repeat)])
        print(f"{'store floor':>28}: list {keys} keys in {listed:.2f} s; list + GET every log "
              f"{floor_s:.2f} s  {runs / floor_s:6.0f} runs/s", flush=True)
        cases = {"local": (audit_cmd(str(root), jobs), {}),
                 "s3 (moto)": (audit_cmd("s3://bench/tree", jobs), env),
                 "s3 (moto), --engine dask": (audit_cmd("s3://bench/tree", jobs, "jsonl", "--engine", "dask"), env)}
        med = side_by_side(cases, repeat, runs)
        print(f"s3/local: {med['s3 (moto)'] / med['local']:.2f}x; s3/floor: {med['s3 (moto)'] / floor_s:.2f}x; "
              f"dask/s3: {med['s3 (moto), --engine dask'] / med['s3 (moto)']:.2f}x")
    finally:
        moto.terminate()
        moto.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--base", default=None, help="another checkout's root, timed side by side")
    parser.add_argument("--store", action="store_true", help="local vs S3 (moto) vs dask, beside the store's floor")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    if args.store:
        bench_store(args.runs, args.jobs, args.repeat)
        return
    t0 = time.perf_counter()
    out = tree_for(args.runs)
    items = generate(out, args.runs)
    print(f"tree: {len(items)} runs under {out} ({time.perf_counter() - t0:.1f} s to make or reuse)")
    root = out / "experiments"
    if args.base:
        compare_base(root, args.base, args.jobs, args.repeat, len(items))
        return
    from lossdoctor.sources import discover

    found = discover([root])
    print(f"discovered {len(found.runs)} runs; skipped {dict(found.skipped)}")
    cmd = [sys.executable, "-m", "lossdoctor", "audit", str(root), "--format", "json", "--jobs", str(args.jobs)]

    def run_audit() -> None:
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"audit failed ({proc.returncode}): {proc.stderr}")

    results = {}
    for name, fn in (("discovery", lambda: discover([root])), ("floor", lambda: floor(items)),
                     (f"audit --jobs {args.jobs}", run_audit)):
        times = [timed(fn) for _ in range(args.repeat)]
        results[name] = statistics.median(times)
        print(f"{name:>16}: median {results[name]:.2f} s  ({', '.join(f'{t:.2f}' for t in times)})", flush=True)
    audit_time = results[f"audit --jobs {args.jobs}"]
    print(f"ratio audit/floor: {audit_time / results['floor']:.2f}x  "
          f"({len(items) / audit_time:.0f} runs/s)")


if __name__ == "__main__":
    main()
