"""The TensorBoard reader against tensorboard's own loader, plus integrity and folders."""

from __future__ import annotations

import math
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto import event_pb2, histogram_pb2, summary_pb2, tensor_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

from lossdoctor.errors import InputError
from lossdoctor.sources.tensorboard import read_event_scalars, read_tensorboard

CORPUS = Path(__file__).parent / "data" / "corpus" / "runs"
CORPUS_FILES = sorted(CORPUS.glob("tensorboard-*/*tfevents*"))
SCALARS = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))


def reference(path: Path) -> dict:
    """Scalars as TensorBoard reads them: simple_value, or a one-element 'scalars' tensor."""
    rows: dict[str, list] = {}
    plugin: dict[str, str] = {}
    for raw in RawEventFileLoader(str(path)).Load():
        event = event_pb2.Event.FromString(raw)
        for v in event.summary.value:
            if v.HasField("metadata") and v.tag not in plugin:
                plugin[v.tag] = v.metadata.plugin_data.plugin_name
            kind = v.WhichOneof("value")
            if kind == "simple_value":
                rows.setdefault(v.tag, []).append((event.step, event.wall_time, v.simple_value, False))
            elif kind == "tensor":
                try:
                    a = tensor_util.make_ndarray(v.tensor)
                except Exception:  # noqa: BLE001 - not a numeric tensor
                    continue
                if a.size == 1 and a.dtype.kind in "fiu":
                    rows.setdefault(v.tag, []).append((event.step, event.wall_time, float(a.item()), True))
    out = {}
    for tag, points in rows.items():
        points = [p for p in points if not p[3] or plugin.get(tag) == "scalars"]
        if points:
            out[tag] = (np.array([p[0] for p in points], np.int64), np.array([p[1] for p in points]),
                        np.array([p[2] for p in points], np.float64))
    return out


def assert_same(got: dict, want: dict) -> None:
    assert list(got) == sorted(want, key=list(got).index) and set(got) == set(want)
    for tag in want:
        steps, walls, values = got[tag]
        assert steps.dtype == np.int64 and walls.dtype == np.float64 and values.dtype == np.float64
        for g, w in zip(got[tag], want[tag]):
            assert np.array_equal(g, w, equal_nan=True), tag


def write_events(folder: Path, events: list[event_pb2.Event], suffix: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(folder), filename_suffix=suffix)
    for event in events:
        writer.add_event(event)
    writer.close()
    return max(folder.glob(f"*tfevents*{suffix}"), key=lambda p: p.stat().st_mtime_ns)


def simple(step: int, wall: float, **values: float) -> event_pb2.Event:
    vals = [summary_pb2.Summary.Value(tag=t.replace("__", "/"), simple_value=v) for t, v in values.items()]
    return event_pb2.Event(step=step, wall_time=wall, summary=summary_pb2.Summary(value=vals))


def tensor_event(step: int, tag: str, tensor: tensor_pb2.TensorProto, meta: bool = True) -> event_pb2.Event:
    v = summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=SCALARS if meta else None)
    return event_pb2.Event(step=step, wall_time=1e9 + step, summary=summary_pb2.Summary(value=[v]))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.parent.name)
def test_corpus_matches_tensorboard(path: Path) -> None:
    assert_same(read_event_scalars(path), reference(path))


def test_corpus_manifest_counts() -> None:
    assert len(CORPUS_FILES) == 8
    lstm = read_event_scalars(next(CORPUS.glob("tensorboard-pl_lstm_textgen/*")))
    assert len(lstm["train_loss"][0]) == 7691 and len(lstm["val_loss"][0]) == 29
    fire = read_event_scalars(next(CORPUS.glob("tensorboard-yolo_fire_smoke/*")))
    assert len(fire["train/box_loss"][2]) == 1375 and np.unique(fire["train/box_loss"][0]).size == 25
    odapi = read_event_scalars(next(CORPUS.glob("tensorboard-tf2_odapi_mobile320_train/*")))
    assert len(odapi["Loss/total_loss"][0]) == 20


def test_simple_values_nonfinite_many_tags_and_odd_steps(tmp_path: Path) -> None:
    specials = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-45]
    events = [simple(s, 1.7e9 + s / 3, loss=specials[s % 6] if s % 7 == 0 else s * 0.5, lr=0.1)
              for s in range(0, 300)]
    events += [simple(s, 1.7e9 + 400, loss=1.0, acc__top1=0.5) for s in (2**31 + 5, 2**40, 2**62, 2**63 - 1)]
    events += [simple(-1, 0.0, loss=2.0), simple(-(2**40), 5.0, neg=3.0), simple(0, 0.0, loss=4.0)]
    path = write_events(tmp_path, events)
    got = read_event_scalars(path)
    assert_same(got, reference(path))
    assert got["loss"][0][-1] == 0 and -(2**40) in got["neg"][0] and 2**63 - 1 in got["loss"][0]
    assert np.isnan(got["loss"][2][0]) and np.isposinf(got["loss"][2][7])


def test_tf2_tensor_scalars_and_skipped_summaries(tmp_path: Path) -> None:
    events = []
    for s in range(40):
        f32 = tensor_pb2.TensorProto(dtype=1, tensor_content=struct.pack("<f", s / 7))
        events.append(tensor_event(s, "content_f32", f32, meta=s == 0))  # metadata on the first only
        events.append(tensor_event(s, "float_val", tensor_pb2.TensorProto(dtype=1, float_val=[-s / 3])))
        events.append(tensor_event(s, "double", tensor_pb2.TensorProto(dtype=2, double_val=[s / 9])))
        events.append(tensor_event(s, "int64", tensor_pb2.TensorProto(dtype=9, int64_val=[s - 20])))
        events.append(tensor_event(s, "f64_content", tensor_pb2.TensorProto(dtype=2, tensor_content=struct.pack("<d", s * 1.1))))
        text = tensor_pb2.TensorProto(dtype=7, string_val=[b"hello"])
        meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text"))
        events.append(event_pb2.Event(step=s, wall_time=1e9, summary=summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag="notes", tensor=text, metadata=meta)])))
        image = summary_pb2.Summary.Image(height=2, width=2, colorspace=3, encoded_image_string=bytes(range(200)))
        histo = histogram_pb2.HistogramProto(min=0, max=1, num=3, bucket_limit=[1.0], bucket=[3.0])
        events.append(event_pb2.Event(step=s, wall_time=1e9, summary=summary_pb2.Summary(value=[
            summary_pb2.Summary.Value(tag="img", image=image), summary_pb2.Summary.Value(tag="h", histo=histo),
            summary_pb2.Summary.Value(tag="mixed", simple_value=float(s))])))
    vector = tensor_pb2.TensorProto(dtype=1, float_val=[1.0, 2.0])
    vector.tensor_shape.dim.add(size=2)
    events.append(tensor_event(99, "vector", vector))
    path = write_events(tmp_path, events)
    got = read_event_scalars(path)
    assert_same(got, reference(path))
    assert set(got) == {"content_f32", "float_val", "double", "int64", "f64_content", "mixed"}


def record_offsets(path: Path) -> list[int]:
    data, pos, out = path.read_bytes(), 0, []
    while pos < len(data):
        out.append(pos)
        pos += struct.unpack_from("<Q", data, pos)[0] + 16
    return out


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    return write_events(tmp_path / "run", [simple(s, 1e9 + s, loss=1.0 / (s + 1)) for s in range(50)])


def test_truncated_last_record_is_a_note(small_file: Path) -> None:
    original = small_file.read_bytes()
    offsets = record_offsets(small_file)
    for into_last in (5, 14, len(original) - offsets[-1] - 2):  # in the header, the data, the CRC
        small_file.write_bytes(original[: offsets[-1] + into_last])
        notes: list[str] = []
        got = read_event_scalars(small_file, notes=notes)
        assert len(got["loss"][0]) == len(offsets) - 2  # minus file_version and the cut record
        assert notes == [f"ignored a truncated last record at byte {offsets[-1]:,}"]


def test_flipped_length_byte(small_file: Path) -> None:
    offsets = record_offsets(small_file)
    data = bytearray(small_file.read_bytes())
    data[offsets[10]] ^= 0x01
    small_file.write_bytes(bytes(data))
    with pytest.raises(InputError, match=f"corrupt record at byte {offsets[10]:,} \\(length checksum"):
        read_event_scalars(small_file)
    data[offsets[10]] ^= 0x01
    data[offsets[-1] + 1] ^= 0x40  # in the last record: treated as a damaged tail
    small_file.write_bytes(bytes(data))
    notes: list[str] = []
    assert len(read_event_scalars(small_file, notes=notes)["loss"][0]) == 49
    assert notes and f"byte {offsets[-1]:,}" in notes[0]


def test_verify_detects_a_flipped_data_byte(small_file: Path) -> None:
    offsets = record_offsets(small_file)
    data = bytearray(small_file.read_bytes())
    data[offsets[20] + 12 + 3] ^= 0x10  # inside wall_time: still a valid event
    small_file.write_bytes(bytes(data))
    assert len(read_event_scalars(small_file)["loss"][0]) == 50
    with pytest.raises(InputError, match=f"byte {offsets[20]:,} \\(data checksum"):
        read_event_scalars(small_file, verify=True)


def test_verify_passes_on_clean_files_with_long_records() -> None:
    for path in CORPUS_FILES:
        read_event_scalars(path, verify=True)


def test_empty_and_foreign_files(tmp_path: Path) -> None:
    empty = tmp_path / "events.out.tfevents.1"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_event_scalars(empty)
    foreign = tmp_path / "other.tfevents"
    foreign.write_bytes(b"step,loss\n1,0.5\n2,0.4\n" * 10)
    with pytest.raises(InputError, match="not a TensorBoard event file"):
        read_event_scalars(foreign)


def test_folder_merges_resumed_files(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_events(run, [simple(s, 1000.0 + s, loss=10.0 - s) for s in range(10)], suffix=".a")
    write_events(run, [simple(s, 2000.0 + s, loss=100.0 + s) for s in range(6, 12)], suffix=".b")
    result = read_tensorboard(run)
    assert result.format == "tensorboard" and result.path == str(run)
    series = result.series["loss"]
    assert series.steps.tolist() == list(range(12))
    assert series.values.tolist() == [10.0 - s for s in range(6)] + [100.0 + s for s in range(6, 12)]
    assert any("went backwards" in n for n in result.notes)


def test_keras_train_validation_folders(tmp_path: Path) -> None:
    write_events(tmp_path / "fit" / "train", [simple(e, 1.0 + e, epoch_loss=1.0 / (e + 1)) for e in range(5)])
    write_events(tmp_path / "fit" / "validation", [simple(e, 1.0 + e, epoch_loss=2.0 / (e + 1)) for e in range(5)])
    write_events(tmp_path / "fit" / "a", [simple(e, 1.0, shared=1.0, only_a=1.0) for e in range(3)])
    write_events(tmp_path / "fit" / "b", [simple(e, 1.0, shared=2.0) for e in range(3)])
    run = read_tensorboard(tmp_path / "fit")
    assert set(run.series) == {"train/epoch_loss", "validation/epoch_loss", "a/shared", "b/shared", "only_a"}
    assert run.series["validation/epoch_loss"].values[0] == 2.0


def test_single_file_run(small_file: Path) -> None:
    run = read_tensorboard(small_file)
    assert list(run.series) == ["loss"] and len(run.series["loss"]) == 50


def test_reader_does_not_import_tensorboard_or_protobuf(small_file: Path) -> None:
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from lossdoctor.sources.tensorboard import read_tensorboard\n"
        f"run = read_tensorboard(Path({str(small_file)!r}))\nassert len(run.series['loss']) == 50\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorboard', 'torch') or m.startswith('google.protobuf')]\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(root)!r})\n" + code],
                   check=True, cwd=root)


@pytest.mark.parametrize("path", CORPUS_FILES[:4] + CORPUS_FILES[-2:], ids=lambda p: p.parent.name)
def test_record_by_record_path_alone_matches(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lossdoctor.sources.tb_groups as tb_groups

    monkeypatch.setattr(tb_groups, "MIN_GROUP", 10**12)  # no grouped decoding at all
    assert_same(read_event_scalars(path), reference(path))


@pytest.mark.parametrize("segment", [16, 1000, 1 << 16])
def test_segmented_reading_matches(segment: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file read a few bytes or KB at a time (records cut at every boundary) reads the same."""
    import lossdoctor.sources.tfrecord as tfrecord

    monkeypatch.setattr(tfrecord, "SEGMENT", segment)
    # 16-byte segments cut every record many times and cost ~10 us a segment boundary (all
    # eight files: 24 s): the smallest file of each writer (detectron2, HF, Lightning, TF2
    # Object Detection, YOLO) is every writer's records cut, in 4.6 s.
    for path in CORPUS_FILES if segment > 16 else _smallest_per_writer():
        assert_same(read_event_scalars(path), reference(path))


def _smallest_per_writer() -> list[Path]:
    smallest: dict[str, Path] = {}
    for path in sorted(CORPUS_FILES, key=lambda p: p.stat().st_size, reverse=True):
        smallest[path.parent.name.removeprefix("tensorboard-").split("_")[0]] = path
    return sorted(smallest.values())


def test_damage_is_located_across_segments(small_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lossdoctor.sources.tfrecord as tfrecord

    monkeypatch.setattr(tfrecord, "SEGMENT", 100)  # about two records per segment
    offsets = record_offsets(small_file)
    original = small_file.read_bytes()
    data = bytearray(original)
    data[offsets[30]] ^= 0x01  # a corrupt middle, then 20 good records in later segments
    small_file.write_bytes(bytes(data))
    with pytest.raises(InputError, match=f"corrupt record at byte {offsets[30]:,} \\(length checksum"):
        read_event_scalars(small_file)
    small_file.write_bytes(original[: offsets[-1] + 14])
    notes: list[str] = []
    assert len(read_event_scalars(small_file, notes=notes)["loss"][0]) == len(offsets) - 2
    assert notes == [f"ignored a truncated last record at byte {offsets[-1]:,}"]
    data = bytearray(original)
    data[offsets[20] + 12 + 3] ^= 0x10
    small_file.write_bytes(bytes(data))
    with pytest.raises(InputError, match=f"byte {offsets[20]:,} \\(data checksum"):
        read_event_scalars(small_file, verify=True)


def test_garbage_tail_longer_than_a_segment(small_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lossdoctor.sources.tfrecord as tfrecord

    monkeypatch.setattr(tfrecord, "SEGMENT", 64)
    end = small_file.stat().st_size
    small_file.write_bytes(small_file.read_bytes() + bytes(range(256)) * 4)
    notes: list[str] = []
    assert len(read_event_scalars(small_file, notes=notes)["loss"][0]) == 50
    assert notes == [f"ignored an unreadable last record at byte {end:,} (length checksum mismatch)"]


def test_many_tags_of_one_length(tmp_path: Path) -> None:
    """40 tags whose records all have one length: past the first groups, keys are sorted."""
    events = [simple(s, 1e9 + s, **{f"m_{t:02d}": s + t / 100 for t in range(40)}) for s in range(3)]
    events += [simple(s, 1e9 + s, **{f"m_{t:02d}": -s}) for s in range(20) for t in range(40)]
    path = write_events(tmp_path, events)
    got = read_event_scalars(path)
    assert_same(got, reference(path))
    assert len(got) == 40 and all(len(v[0]) == 23 for v in got.values())


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.parent.name)
def test_sorted_grouping_alone_matches(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lossdoctor.sources.tb_groups as tb_groups

    monkeypatch.setattr(tb_groups, "SCAN_ROUNDS", 0)
    assert_same(read_event_scalars(path), reference(path))


def test_only_wanted_tags_are_decoded_the_rest_counted(tmp_path: Path) -> None:
    # Enough records per tag to be decoded by groups, and a few alone (a second layout).
    events = [simple(s, 1.7e9 + s, loss=1.0 / (s + 1), lr=0.1, **{f"m{i:02d}": s * i for i in range(5)})
              for s in range(200)]
    events += [simple(s, 1.7e9 + s, loss=0.5, other=1.0) for s in (200, 201)]
    path = write_events(tmp_path, events)
    full = read_event_scalars(path)
    counted: dict[str, int] = {}
    part = read_event_scalars(path, wanted=lambda tag: tag == "loss", counted=counted)
    assert list(part) == ["loss"]
    assert_same(part, {"loss": full["loss"]})
    assert counted == {"lr": 200, **{f"m{i:02d}": 200 for i in range(5)}, "other": 2}
    run = read_tensorboard(path, wanted=lambda tag: tag in ("loss", "lr"))
    assert set(run.series) == {"loss", "lr"}
    assert any("counted, not decoded, 1,002 points of 6 other tags" in n for n in run.notes)


def test_diagnosis_decodes_only_what_roles_use(tmp_path: Path) -> None:
    from lossdoctor.diagnose import Settings, diagnose_path

    events = [simple(s, 1.7e9 + s, train__loss=2.0 / (s + 1), val__loss=2.2 / (s + 1), lr=1e-3,
                     grad_norm=1.0, **{f"gpu__util{i}": 50.0 for i in range(3)}) for s in range(100)]
    path = write_events(tmp_path, events)
    diagnosis = diagnose_path(path, Settings.default())
    assert diagnosis.points == 4 * 100
    assert any("3 other tags" in n for n in diagnosis.notes)
    assert set(diagnosis.metrics.values()) == {"train/loss", "val/loss", "lr", "grad_norm"}


def test_findings_name_the_step_the_log_wrote_when_points_share_one(tmp_path: Path) -> None:
    """Ultralytics' TensorBoard callback writes each batch's losses at the epoch's step: the
    frame spreads the points sharing a step across it, but a finding (its step, its message,
    its evidence) names the step as logged, never a position between two steps."""
    from lossdoctor.diagnose import Settings, diagnose_path

    events = []
    for epoch in range(30):
        for batch in range(8):
            loss = 2.0 * 0.9 ** epoch * (1 + 0.02 * ((batch * 7) % 5))
            if epoch == 17 and batch == 3:
                loss *= 30  # one bad batch: a spike at a spread position inside epoch 17
            events.append(simple(epoch, 1e9 + epoch * 8 + batch, train__loss=loss))
    write_events(tmp_path / "run", events)
    diag = diagnose_path(tmp_path / "run", Settings.default())
    spike = next(f for f in diag.findings if f.rule == "loss_spike")
    assert spike.step == 17 and "step 17" in spike.message
    for f in diag.findings:
        steps = [f.step, f.end_step] + [v for k, v in f.evidence.items() if k.endswith("_step")]
        assert all(float(s).is_integer() for s in steps if isinstance(s, (int, float))), (f.rule, steps)
        assert not re.search(r"step \d+\.\d", f.message), f.message
    # The same log read through the corpus' real Ultralytics file: no fractional step either.
    corpus = Path(__file__).parent / "data" / "corpus" / "runs" / "tensorboard-yolo_fire_smoke"
    for f in diagnose_path(corpus, Settings.default()).findings:
        assert f.step is None or float(f.step).is_integer(), (f.rule, f.step)
