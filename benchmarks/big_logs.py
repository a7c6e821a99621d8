"""Writers of the big logs `bench_read.py --parts scale` measures (into a temp dir it deletes).

* `write_big_events`: a TensorBoard event file of STEPS x TAGS simple_value scalars, one
  event per point as PyTorch's SummaryWriter writes them, built with numpy: the bytes of
  one record are fixed per (tag, step-varint length) except wall time, step and value, and
  CRC-32C is linear, so each record's checksum is its template's checksum XOR one table
  lookup per varying byte (tables by distance from the record's end). `check_events`
  proves a small one byte-identical in meaning to tensorboard's own reader.
* `write_big_jsonl`: a Detectron2-style metrics.json of N lines.
* `write_big_wandb`: a W&B run of N history rows, logged offline by wandb itself (a
  test/bench-only dependency), about 130 us per row.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from lossdoctor.sources.tfrecord import _TABLE, crc32c_py, masked

MAIN_TAGS = ("train/loss", "val/loss", "lr", "grad_norm")


def tags(count: int) -> list[str]:
    """The four tags a diagnosis uses, then `metrics/mNN` up to `count` tags."""
    return list(MAIN_TAGS) + [f"metrics/m{i:02d}" for i in range(count - len(MAIN_TAGS))]


def _distance_tables(longest: int) -> np.ndarray:
    """T[d][b]: CRC-32C register (init 0, no final xor) after byte b and then d zero bytes."""
    t = np.zeros((longest, 256), np.uint32)
    t[0] = _TABLE
    for d in range(1, longest):
        r = t[d - 1]
        t[d] = _TABLE[r & 0xFF] ^ (r >> np.uint32(8))
    return t


def _template(tag: bytes, k: int) -> tuple[bytes, dict[str, int]]:
    """An Event record with zeroed wall time, step varint (k bytes) and value; field offsets."""
    value = b"\x0a" + bytes([len(tag)]) + tag + b"\x15" + bytes(4)
    summary = b"\x0a" + bytes([len(value)]) + value
    body = b"\x09" + bytes(8) + b"\x10" + bytes(k) + b"\x2a" + bytes([len(summary)]) + summary
    return body, {"wall": 1, "step": 10, "value": len(body) - 4}


def _varint_bytes(steps: np.ndarray, k: int) -> np.ndarray:
    """(n, k) uint8: the base-128 varint of each step (all of length k)."""
    out = np.zeros((steps.size, k), np.uint8)
    for i in range(k):
        out[:, i] = ((steps >> (7 * i)) & 0x7F) | (0x80 if i < k - 1 else 0)
    return out


def _records(tag: bytes, steps: np.ndarray, walls: np.ndarray, values: np.ndarray, k: int,
             tables: np.ndarray) -> np.ndarray:
    """(n, 16 + L) uint8 framed records of one tag for steps whose varint has k bytes."""
    body, at = _template(tag, k)
    n, size = steps.size, len(body)
    rows = np.zeros((n, size + 16), np.uint8)
    rows[:, :8] = np.frombuffer(size.to_bytes(8, "little"), np.uint8)
    rows[:, 8:12] = np.frombuffer(int(masked(crc32c_py(size.to_bytes(8, "little")))).to_bytes(4, "little"), np.uint8)
    data = rows[:, 12 : 12 + size]
    data[:] = np.frombuffer(body, np.uint8)
    data[:, at["wall"] : at["wall"] + 8] = walls.astype("<f8").view(np.uint8).reshape(n, 8)
    data[:, at["step"] : at["step"] + k] = _varint_bytes(steps, k)
    data[:, at["value"] : at["value"] + 4] = values.astype("<f4").view(np.uint8).reshape(n, 4)
    # crc(base XOR D) = crc(base) XOR register(D, init 0): D is nonzero only in the varying bytes.
    crc = np.full(n, crc32c_py(body), np.uint32)
    varying = list(range(at["wall"], at["wall"] + 8)) + list(range(at["step"], at["step"] + k)) + \
        list(range(at["value"], at["value"] + 4))
    for j in varying:
        crc ^= tables[size - 1 - j][data[:, j]]
    rows[:, 12 + size :] = masked(crc).astype("<u4").view(np.uint8).reshape(n, 4)
    return rows


def _curves(tag_list: list[str], steps: np.ndarray, total: int) -> np.ndarray:
    rng = np.random.default_rng(int(steps[0]))
    x = steps / total
    loss = 0.3 + 2.0 * np.exp(-4 * x)
    rows = [loss * (1 + 0.05 * rng.standard_normal(steps.size)), loss * 1.05,
            3e-4 * np.minimum(1, 20 * x) * (1 - x) + 1e-6, 1 + 0.2 * np.abs(rng.standard_normal(steps.size))]
    rows += [rng.random(steps.size) for _ in range(len(tag_list) - 4)]
    return np.asarray(rows, np.float32)


def write_big_events(path: Path, steps: int, tag_count: int, chunk: int = 10_000) -> None:
    """steps x tag_count scalars (steps 1..steps), one event per point, steps outer, tags inner."""
    tag_list = [t.encode() for t in tags(tag_count)]
    tables = _distance_tables(64)
    head = b"\x09" + np.float64(1.7e9).tobytes() + b"\x1a\x0dbrain.Event:2"
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little") + int(masked(crc32c_py(len(head).to_bytes(8, "little")))).to_bytes(4, "little")
                + head + int(masked(crc32c_py(head))).to_bytes(4, "little"))
        for lo in range(1, steps + 1, chunk):
            for k, a, b in _varint_runs(lo, min(lo + chunk, steps + 1)):
                s = np.arange(a, b, dtype=np.int64)
                walls = 1.7e9 + s * 0.01
                values = _curves(tags(tag_count), s, steps)
                blocks = [_records(t, s, walls, values[i], k, tables) for i, t in enumerate(tag_list)]
                f.write(np.concatenate(blocks, axis=1).tobytes())  # step-major: each row is one step


def _varint_runs(a: int, b: int) -> list[tuple[int, int, int]]:
    """Split steps [a, b) where their varint length changes: [(k, lo, hi)]."""
    out, lo = [], a
    for k, top in ((1, 1 << 7), (2, 1 << 14), (3, 1 << 21), (4, 1 << 28)):
        hi = min(b, top)
        if lo < hi:
            out.append((k, lo, hi))
            lo = hi
    return out


def check_events(folder: Path) -> None:
    """A small file made this way reads the same with tensorboard's own record reader and protos
    as with lossdoctor's (which checks both checksums of every record with verify)."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event

    from lossdoctor.sources.tensorboard import read_event_scalars

    path = folder / "check.tfevents"
    write_big_events(path, 300, 6, chunk=70)
    ours = read_event_scalars(path, verify=True)
    theirs: dict[str, list] = {}
    for raw in RawEventFileLoader(str(path)).Load():
        event = Event.FromString(raw)
        for v in event.summary.value:
            theirs.setdefault(v.tag, []).append((event.step, v.simple_value))
    for tag, points in theirs.items():
        steps, _, values = ours[tag]
        assert steps.tolist() == [p[0] for p in points] and np.array_equal(values, np.float32([p[1] for p in points]))
    assert set(ours) == set(theirs) and len(theirs) == 6
    path.unlink()


def write_big_jsonl(path: Path, lines: int, chunk: int = 1_000_000) -> None:
    """A Detectron2-style metrics.json: iteration, total_loss, two loss terms, lr."""
    with open(path, "w") as fh:
        for lo in range(0, lines, chunk):
            i = np.arange(lo, min(lo + chunk, lines))
            loss = 0.3 + 2.0 * np.exp(-4 * i / lines) * (1 + 0.05 * np.random.default_rng(lo).standard_normal(i.size))
            lr = 3e-4 * np.minimum(1, 20 * i / lines) + 1e-6
            fh.write("".join(f'{{"iteration": {a}, "total_loss": {b:.6g}, "loss_cls": {b * 0.6:.6g}, '
                             f'"loss_box_reg": {b * 0.4:.6g}, "lr": {c:.6g}}}\n'
                             for a, b, c in zip(i.tolist(), loss.tolist(), lr.tolist())))


_WANDB_WRITER = r"""
import sys, numpy as np, wandb
n = int(sys.argv[1])
run = wandb.init(project="bench", name="bench")
rng = np.random.default_rng(0)
loss = (2 * np.exp(-np.linspace(0, 4, n)) + 0.3) * (1 + 0.05 * rng.standard_normal(n))
for i in range(n):
    row = {"train/loss": float(loss[i]), "lr": 3e-4, "grad_norm": float(1 + abs(rng.standard_normal())), "tokens": i * 4096}
    if i % 100 == 0:
        row["val/loss"] = float(loss[i]) * 1.05
    wandb.log(row, step=i)
run.finish()
"""


def write_big_wandb(folder: Path, rows: int) -> Path:
    """A W&B run of `rows` history rows (4 keys each, val/loss every 100th), logged offline by wandb."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(folder), "WANDB_SILENT": "true"}
    subprocess.run([sys.executable, "-c", _WANDB_WRITER, str(rows)], env=env, check=True)
    (log,) = (folder / "wandb").glob("offline-run-*/run-*.wandb")
    return log
