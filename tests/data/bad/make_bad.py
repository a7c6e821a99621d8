"""Write the corpus of malformed training logs that lossdoctor must survive.

Each case is what a crashed, killed or half-written run (or a wrong file) leaves behind.
Nothing here is committed except this script: `tests/test_bad_input.py` runs `make_all`
into a temporary folder once per session (symlinks and a 100,000-level JSON document are
cheap to make and awkward to commit). Run it by hand to look at the files:

    python tests/data/bad/make_bad.py /tmp/bad

Event files are written with a tiny protobuf + TFRecord encoder so that this script needs
neither tensorboard nor protobuf.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from pathlib import Path

N_POINTS = 60  # enough points for every rule to have something to judge


def _crc32c(data: bytes) -> int:
    reg = 0xFFFFFFFF
    for byte in data:
        reg ^= byte
        for _ in range(8):
            reg = (reg >> 1) ^ (0x82F63B78 if reg & 1 else 0)
    return reg ^ 0xFFFFFFFF


def _masked(data: bytes) -> bytes:
    crc = _crc32c(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _event(wall: float, step: int, body: bytes) -> bytes:
    """Event{wall_time=1, step=2, <body>} (body: file_version=3 or summary=5, already tagged)."""
    return b"\x09" + struct.pack("<d", wall) + b"\x10" + _varint(step) + body


def _scalar_event(wall: float, step: int, tag: str, value: float) -> bytes:
    val = b"\x0a" + _varint(len(tag)) + tag.encode() + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + _varint(len(val)) + val
    return _event(wall, step, b"\x2a" + _varint(len(summary)) + summary)


def _frame(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + _masked(length) + data + _masked(data)


def event_file_frames() -> list[bytes]:
    """TFRecord frames of a small healthy run: a file_version record, then loss per step."""
    version = b"brain.Event:2"
    frames = [_frame(_event(1.7e9, 0, b"\x1a" + _varint(len(version)) + version))]
    for step in range(N_POINTS):
        loss = 2.0 * math.exp(-step / 15) + 0.1
        frames.append(_frame(_scalar_event(1.7e9 + step, step * 10, "train/loss", loss)))
    return frames


def _decay_rows(n: int = N_POINTS) -> list[tuple[int, float, float]]:
    return [(i, 2.0 * math.exp(-i / 15) + 0.1, 2.1 * math.exp(-i / 15) + 0.15) for i in range(n)]


def _csv(rows: list[tuple], header: str = "epoch,loss,val_loss") -> str:
    return header + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows)


def _jsonl(rows: list[tuple[int, float, float]]) -> list[str]:
    return [json.dumps({"iteration": i * 10, "total_loss": a, "lr": 0.01}) for i, a, _ in rows]


def _tensorboard_cases(d: Path) -> None:
    frames = event_file_frames()
    whole = b"".join(frames)
    # A run killed while writing: the last record is cut 7 bytes into its data.
    (d / "tb_truncated.tfevents.1.host").write_bytes(whole[: len(whole) - len(frames[-1]) + 19])
    # A flipped bit in the length checksum of a record in the middle: the framing is lost there.
    bad = bytearray(frames[N_POINTS // 2])
    bad[8] ^= 0x01
    (d / "tb_bad_length_crc.tfevents.1.host").write_bytes(
        b"".join(frames[: N_POINTS // 2]) + bytes(bad) + b"".join(frames[N_POINTS // 2 + 1:]))
    # A wrong data checksum (payload intact): data checksums are verified only on request.
    bad = bytearray(frames[5])
    bad[-1] ^= 0xFF
    (d / "tb_bad_data_crc.tfevents.1.host").write_bytes(b"".join(frames[:5]) + bytes(bad) + b"".join(frames[6:]))
    (d / "tb_zero_bytes.tfevents.1.host").write_bytes(b"")
    (d / "tb_two_bytes.tfevents.1.host").write_bytes(b"\x0c\x00")
    # A resumed run whose second writer was killed before writing anything.
    (d / "tb_folder_with_empty").mkdir(exist_ok=True)
    (d / "tb_folder_with_empty" / "events.out.tfevents.1.host").write_bytes(whole)
    (d / "tb_folder_with_empty" / "events.out.tfevents.2.host").write_bytes(b"")


def _csv_cases(d: Path) -> None:
    rows = _decay_rows()
    (d / "zero_bytes.csv").write_bytes(b"")
    (d / "header_only.csv").write_text("epoch,loss,val_loss\n")
    (d / "one_row.csv").write_text(_csv(rows[:1]))
    ragged = _csv(rows).splitlines()
    ragged[10] += ",0.5,7"  # two extra fields
    ragged[20] = ragged[20].rsplit(",", 1)[0]  # one field short
    (d / "ragged.csv").write_text("\n".join(ragged) + "\n")
    cut = _csv(rows)
    (d / "cut_last_row.csv").write_text(cut[: cut.rindex(",") + 3])  # killed mid-row: '59,0.1' + ',0'
    (d / "binary.csv").write_bytes(bytes(range(256)) * 64)
    # An old Windows log: accented column names in Latin-1, not UTF-8.
    (d / "latin1.csv").write_bytes(_csv(rows, "époque,loss,val_perte_été").encode("latin-1"))
    (d / "text_loss.csv").write_text(_csv([(i, "loss_is_" + str(i), v) for i, _, v in rows]))
    (d / "all_text.csv").write_text(_csv([(i, "oops", "n/a?") for i, _, _ in rows]))
    (d / "all_nan.csv").write_text(_csv([(i, "nan", "nan") for i, _, _ in rows]))
    back = rows[:30] + rows[20:25] + rows[25:] + [rows[-1]] * 3  # restart at 20, then duplicates
    (d / "backwards_steps.csv").write_text(_csv(back))


def _json_cases(d: Path) -> None:
    rows = _decay_rows()
    records = json.dumps([{"epoch": i, "loss": a, "val_loss": v} for i, a, v in rows], indent=1)
    (d / "cut.json").write_text(records[: len(records) // 2])
    lines = _jsonl(rows)
    lines.insert(17, "Traceback (most recent call last): CUDA out of memory")
    lines.insert(30, '{"iteration": 300, "total_loss": 0.2')  # a line cut by a crash
    (d / "garbage_line.jsonl").write_text("\n".join(lines) + "\n")
    (d / "deep_list.json").write_text("[" * 100_000)
    (d / "deep_object.json").write_text('{"a":' * 100_000)
    (d / "deep_line.jsonl").write_text("\n".join(_jsonl(rows) + ['{"x":' + "[" * 100_000]) + "\n")
    (d / "all_garbage.jsonl").write_text("{\n" + "not json\n" * 20)
    state = {"global_step": 600, "epoch": 3.0, "best_metric": None}
    (d / "no_log_history").mkdir(exist_ok=True)
    (d / "no_log_history" / "trainer_state.json").write_text(json.dumps(state, indent=2))
    (d / "no_log_history_oneline").mkdir(exist_ok=True)
    (d / "no_log_history_oneline" / "trainer_state.json").write_text(json.dumps(state))
    (d / "log_history_not_list").mkdir(exist_ok=True)
    (d / "log_history_not_list" / "trainer_state.json").write_text(json.dumps({**state, "log_history": {"a": 1}}))


def _folder_cases(d: Path) -> None:
    (d / "no_logs").mkdir(exist_ok=True)
    (d / "no_logs" / "README.md").write_text("notes, no logs\n")
    (d / "no_logs" / "model.bin").write_bytes(b"\x00" * 64)
    loop = d / "symlink_loop.csv"
    if not loop.is_symlink():
        loop.symlink_to(loop.name)  # points at itself
    # A run folder with a symlink back to its parent: a walk that follows it never ends.
    cyc = d / "folder_with_loop"
    cyc.mkdir(exist_ok=True)
    (cyc / "metrics.csv").write_text("epoch,step,train_loss,val_loss\n" + "".join(
        f"{i},{i * 10},{a},{v}\n" for i, a, v in _decay_rows()))
    if not (cyc / "up").is_symlink():
        (cyc / "up").symlink_to("..", target_is_directory=True)
    if not (cyc / "self").is_symlink():
        (cyc / "self").symlink_to(".", target_is_directory=True)


def make_all(dest: Path) -> Path:
    """Write every bad case into `dest` (created); returns `dest`."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for write in (_tensorboard_cases, _csv_cases, _json_cases, _folder_cases):
        write(dest)
    return dest


if __name__ == "__main__":
    out = make_all(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "generated")
    print(f"wrote {len(os.listdir(out))} cases to {out}")
