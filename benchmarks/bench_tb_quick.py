"""Time lossdoctor's TensorBoard reader on 1M-point event files (10 tags x 100k steps).

Two files are written once with tensorboard's own writer and cached in benchmarks/out/:
PyTorch-style `simple_value` scalars and TF2-style float32 `tensor` scalars (plugin
"scalars"). For each, prints the reader's best time, points/s, the `verify=True` time,
and the bytes floor (`open().read()` of the same file).

    .venv/bin/python benchmarks/bench_tb_quick.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lossdoctor.sources.tensorboard import read_event_scalars  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
TAGS, STEPS = 10, 100_000


def _write(path: Path, tensor: bool) -> None:
    """Write TAGS x STEPS scalar events (one event per point, as SummaryWriter does)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    tmp = OUT / ("tmp_" + path.name)
    tmp.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(tmp), max_queue_size=10_000, flush_secs=3600)
    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    for step in range(STEPS):
        for t in range(TAGS):
            value = 1.0 / (1 + step) + t
            if tensor:
                tp = tensor_pb2.TensorProto(dtype=1, tensor_content=__import__("struct").pack("<f", value))
                v = summary_pb2.Summary.Value(tag=f"loss/tag_{t}", tensor=tp, metadata=meta)
            else:
                v = summary_pb2.Summary.Value(tag=f"loss/tag_{t}", simple_value=value)
            writer.add_event(event_pb2.Event(wall_time=1.7e9 + step * 0.01, step=step,
                                             summary=summary_pb2.Summary(value=[v])))
    writer.close()
    next(tmp.iterdir()).rename(path)
    tmp.rmdir()


def _best(fn, repeat: int = 5) -> float:
    """Best wall time of `repeat` calls."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    for name, tensor in (("simple_value", False), ("tf2_tensor", True)):
        path = OUT / f"bench_{name}.tfevents"
        if not path.exists():
            print(f"writing {path.name} ...", file=sys.stderr)
            _write(path, tensor)
        points = sum(len(v[0]) for v in read_event_scalars(path).values())
        t_read = _best(lambda: read_event_scalars(path))
        t_verify = _best(lambda: read_event_scalars(path, verify=True), 2)
        t_bytes = _best(lambda: open(path, "rb").read())
        mb = path.stat().st_size / 1e6
        print(f"{name:13s} {mb:5.1f} MB {points:,} points: read {t_read:.3f} s "
              f"({points / t_read / 1e6:.1f} M points/s), verify=True {t_verify:.3f} s, "
              f"open().read() {t_bytes:.3f} s")


if __name__ == "__main__":
    main()
