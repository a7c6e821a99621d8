"""Peak memory of `lossdoctor diagnose` on the amplification cases of issue 14.

Each case is generated into a temporary folder (deleted afterwards), diagnosed in a child
process, and its peak RSS read from `resource.getrusage(RUSAGE_CHILDREN)` (a fresh Python
per case, so one case's peak never hides another's):

    python benchmarks/bench_hostile.py               # every case, this checkout
    python benchmarks/bench_hostile.py --case csv_line --code /path/to/other/checkout

Cases: 3M empty TFRecord records (48 MB), a trainer_state.json of 10^7 log_history
entries (339 MB), a CSV whose one data line is 300 MB, a CSV header of 10,000 names. `--scale 0.1` makes them smaller.
Measured 2026-12-02 on 2 cores shared with three other jobs (so seconds are loose; peak RSS
is of the whole child, ~145 MB of it the interpreter, numpy and pandas):

    case             input    before (main dc022d0)             after (hostile-data)
    tfrecord_empty   48 MB    exit 0, 25.1 s, 1268 MB            exit 0, 7.6 s, 359 MB
    trainer_state   339 MB    read: 16.2 s, 3216 MB (diagnose     read: 20.4 s, 1057 MB (diagnose
                              killed at 22 min: peak 3222 MB)     killed at 5 min: peak 1184 MB)
    csv_line        300 MB    exit 1, 2.9 s, 1002 MB              exit 3 (line over 16 MiB), 6.0 s, 716 MB

(diagnosing 10^7 points takes many minutes in both: `--read-only` measures the reader alone.)
csv_wide_header (a 10,000-name header over 15-field rows, 0.1 MB), 2026-12-03, alternating
runs side by side: main b79b0fb 3.4 / 4.1 s, 168 MB; reading only the columns that have
cells 1.5 / 1.7 s, 124 MB (the same exit 4 and message; ~0.9 s of it is importing pandas).
"""

from __future__ import annotations

import argparse
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lossdoctor.sources.tfrecord import crc32c_py, masked  # noqa: E402


def _masked_crc(data: bytes) -> bytes:
    """TFRecord's masked CRC32C, by the reader's own functions."""
    return struct.pack("<I", masked(crc32c_py(data)))


def _frame(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + _masked_crc(length) + data + _masked_crc(data)


def _scalar(step: int, value: float) -> bytes:
    tag = b"loss"
    val = b"\x0a" + bytes([len(tag)]) + tag + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + bytes([len(val)]) + val
    body = b"\x2a" + bytes([len(summary)]) + summary
    return b"\x09" + struct.pack("<d", 1.7e9 + step) + b"\x10" + bytes([step]) + body


def tfrecord_empty(folder: Path, scale: float) -> Path:
    """A few real loss records, then 3M empty records (16 bytes each)."""
    path = folder / "events.out.tfevents.1.host"
    empty = _frame(b"")
    with open(path, "wb") as f:
        version = b"brain.Event:2"
        f.write(_frame(b"\x09" + struct.pack("<d", 1.7e9) + b"\x1a" + bytes([len(version)]) + version))
        f.write(b"".join(_frame(_scalar(s, 2.0 / (s + 1))) for s in range(30)))
        f.write(empty * int(3_000_000 * scale))
    return path


def trainer_state(folder: Path, scale: float) -> Path:
    """trainer_state.json with 10^7 log_history entries, written without indent (309 MB)."""
    path = folder / "trainer_state.json"
    n = int(10_000_000 * scale)
    with open(path, "w") as f:
        f.write('{"global_step": %d, "log_history": [' % n)
        for lo in range(0, n, 100_000):
            f.write(",".join('{"loss": %.4f, "step": %d}' % (2.0 / (s + 1) + 0.1, s)
                             for s in range(lo, min(n, lo + 100_000))))
            if lo + 100_000 < n:
                f.write(",")
        f.write("]}")
    return path


def csv_line(folder: Path, scale: float) -> Path:
    """A CSV log with one 300 MB data line among ordinary rows."""
    path = folder / "metrics.csv"
    with open(path, "w") as f:
        f.write("step,loss\n")
        f.writelines(f"{s},{2.0 / (s + 1)}\n" for s in range(30))
        f.write("30," + "9" * int(300_000_000 * scale) + "\n")
        f.writelines(f"{s},{2.0 / (s + 1)}\n" for s in range(31, 60))
    return path


def csv_wide_header(folder: Path, scale: float) -> Path:
    """A results.csv whose header repeats one name 10,000 times over 15-field rows (what
    fuzz.py found: tests/data/fuzz/csv-header-10k-repeats)."""
    path = folder / "results.csv"
    names = ["epoch", "time", *["train/b"] * max(1, int(10_000 * scale))]
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        f.writelines(f"{e},{0.3 * e:.6f}," + ",".join(f"{1.0 / (e + k):.5f}" for k in range(1, 14)) + "\n"
                     for e in range(1, 4))
    return path


CASES = {"tfrecord_empty": tfrecord_empty, "trainer_state": trainer_state, "csv_line": csv_line,
         "csv_wide_header": csv_wide_header}


def measure(path: Path, code: str | None, read_only: bool = False) -> tuple[int, float, int, str]:
    """(exit code, seconds, peak RSS in MB, last stderr line) of one `diagnose` (or only the
    read, `read_only`) in a child."""
    env = dict(os.environ)
    if code:
        env["PYTHONPATH"] = code
    start = time.perf_counter()
    # cwd: the input's folder, so `-m` cannot pick up a lossdoctor/ from the current directory
    command = ["-c", f"from lossdoctor.sources import read_run; read_run({str(path)!r})"] if read_only else \
        ["-m", "lossdoctor", "diagnose", "--format", "json", str(path)]
    proc = subprocess.run([sys.executable, *command], env=env, capture_output=True, text=True, cwd=path.parent)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024  # KB on Linux
    last = (proc.stderr.strip().splitlines() or [""])[-1][:160]
    return proc.returncode, seconds, peak, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--code", help="PYTHONPATH of the lossdoctor to measure (default: as installed)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--read-only", action="store_true",
                        help="only read the log (the reader's peak), not diagnose it (10^7 points take minutes)")
    args = parser.parse_args()
    measured = __doc__[__doc__.index("Measured"):].rstrip().splitlines()
    print("\n".join("# " + line for line in measured), flush=True)  # what earlier runs measured
    for name in args.case or list(CASES):
        with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
            path = CASES[name](Path(tmp), args.scale)
            size = path.stat().st_size
            # A child per case: RUSAGE_CHILDREN's peak is the largest child so far, so measure in a
            # fresh Python that runs just this one diagnose.
            out = subprocess.run([sys.executable, __file__, "--measure", str(path)] +
                                 (["--code", args.code] if args.code else []) +
                                 (["--read-only"] if args.read_only else []), capture_output=True, text=True)
            print(f"{name:15s} input {size / 1e6:7.1f} MB  {out.stdout.strip()}", flush=True)


def _measure_one() -> None:
    path = Path(sys.argv[sys.argv.index("--measure") + 1])
    code = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else None
    rc, seconds, peak, last = measure(path, code, "--read-only" in sys.argv)
    print(f"exit {rc}  {seconds:6.1f} s  peak RSS {peak:6d} MB  {last}")


if __name__ == "__main__":
    _measure_one() if "--measure" in sys.argv else main()
