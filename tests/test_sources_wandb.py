"""W&B run files: written offline by wandb itself, read by us and by wandb's own reader.

wandb is a test dependency only (the `test` extra pins a version that still ships its
Python reader, `wandb.sdk.internal.datastore`); lossdoctor reads the files without it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lossdoctor.errors import InputError
from lossdoctor.sources import detect_format, read_run
from lossdoctor.sources.wandb import read_wandb

FIXTURE = Path(__file__).parent / "data" / "readers" / "wandb"

# One wandb process writes every run (wandb's start-up costs about a second).
WRITER = r'''
import math, sys, wandb
for name in sys.argv[1:]:
    run = wandb.init(project="lossdoctor-test", name=name, id=name)  # the id ends the folder's name
    if name == "mixed":
        for i in range(60):
            row = {"train/loss": 2.0 / (i + 1), "lr": 1e-3 * (0.99 ** i)}
            if i == 17: row["train/loss"] = float("nan")
            if i == 18: row["train/loss"] = float("inf")
            if i == 19: row["grad_norm"] = -float("inf")
            if i % 10 == 0: row["val/loss"] = 2.2 / (i + 1)
            if i % 25 == 0: row["nested"] = {"a": i, "b": {"c": 0.5 * i}}
            if i == 30: row["text"] = "hello"; row["flag"] = True; row["hist"] = wandb.Histogram([1, 2, 3])
            wandb.log(row, step=3 * i)
        wandb.log({"acc": 0.75})
        run.summary["best_val"] = 0.1
    elif name == "big":  # rows longer than a 32 KiB block: FIRST/MIDDLE/LAST chunks
        for i in range(40):
            row = {"loss": 1.0 / (i + 1)}
            if i % 7 == 3: row.update({f"k{j:04d}": j * 0.001 + i for j in range(3000)})
            wandb.log(row)
    run.finish()
'''


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("wandb")
    root = tmp_path_factory.mktemp("wandb")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_DIR": str(root), "WANDB_SILENT": "true"}
    names = ["mixed", "big"]
    subprocess.run([sys.executable, "-c", WRITER, *names], env=env, check=True, timeout=300)
    # offline-run-<time>-<id>: two runs started in the same second sort by id, not by start, so
    # each folder is found by its id (sorting the names paired them the wrong way round).
    folders = {f.name.rsplit("-", 1)[-1]: f for f in (root / "wandb").glob("offline-run-*")}
    assert sorted(folders) == sorted(names)
    return {n: folders[n] for n in names}


def wandb_points(path: Path) -> dict[str, tuple[list, list]]:
    """name -> (steps, values) of every numeric history item, as wandb's own reader sees them."""
    datastore = pytest.importorskip("wandb.sdk.internal.datastore")
    from wandb.proto import wandb_internal_pb2 as pb

    store = datastore.DataStore()
    store.open_for_scan(str(path))
    out: dict[str, tuple[list, list]] = {}
    while (data := store.scan_data()) is not None:
        record = pb.Record()
        record.ParseFromString(data)
        if record.WhichOneof("record_type") != "history":
            continue
        items = {(i.key or ".".join(i.nested_key)): json.loads(i.value_json) for i in record.history.item}
        media = {k[: -len("._type")] for k in items if k.endswith("._type")}
        for key, value in items.items():
            internal = key in ("_step", "_runtime", "_timestamp") or key.startswith("_wandb")
            if internal or any(key.startswith(m + ".") for m in media):
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                col = out.setdefault(key, ([], []))
                col[0].append(float(items["_step"]))
                col[1].append(float(value))
    return out


def _log(folder: Path) -> Path:
    (log,) = folder.glob("run-*.wandb")
    return log


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mixed", "big"])
def test_points_match_wandbs_own_reader(runs, name):
    ours = read_run(runs[name])
    theirs = wandb_points(_log(runs[name]))
    assert ours.format == "wandb"
    assert set(ours.series) == set(theirs)
    for key, (steps, values) in theirs.items():
        series = ours.series[key]
        np.testing.assert_array_equal(series.steps, steps, err_msg=key)
        np.testing.assert_array_equal(series.values, values, err_msg=key)  # NaN == NaN here


@pytest.mark.slow
def test_what_the_mixed_run_holds(runs):
    run = read_run(runs["mixed"])
    loss = run.series["train/loss"]
    assert math.isnan(loss.values[17]) and loss.values[18] == math.inf
    assert run.series["grad_norm"].values.tolist() == [-math.inf]
    assert run.series["val/loss"].steps.tolist() == [0, 30, 60, 90, 120, 150]
    assert "nested.b.c" in run.series and run.series["acc"].values.tolist() == [0.75]
    assert not {"text", "flag", "_step", "_runtime", "_timestamp"} & set(run.series)
    assert not any(name.startswith("hist") for name in run.series)  # a histogram is no metric
    assert any("text" in note for note in run.notes) is False  # 'text' does not look like a metric


@pytest.mark.slow
def test_a_big_record_is_read_in_file_order(runs):
    run = read_run(runs["big"])
    assert len(run.series["loss"]) == 40
    assert run.series["loss"].steps.tolist() == list(range(40))
    assert len(run.series["k0042"]) == len([i for i in range(40) if i % 7 == 3])


def test_the_committed_fixture_reads_as_wandb_wrote_it():
    (log,) = FIXTURE.glob("*/run-*.wandb")
    assert detect_format(log) == "wandb"
    assert detect_format(log.parent) == "wandb"
    run = read_run(log)
    loss = run.series["loss"]
    assert loss.steps.tolist() == [10.0 * i for i in range(20)]
    assert math.isnan(loss.values[5]) and loss.values[6] == math.inf
    assert loss.values[0] == 1.0 and loss.values[-1] == 0.05
    assert run.series["val/loss"].steps.tolist() == [0, 50, 100, 150]
    if _has_datastore():
        theirs = wandb_points(log)
        assert set(theirs) == set(run.series)
        for key, (steps, values) in theirs.items():
            np.testing.assert_array_equal(run.series[key].steps, steps)
            np.testing.assert_array_equal(run.series[key].values, values)


def _has_datastore() -> bool:
    try:
        import wandb.sdk.internal.datastore  # noqa: F401
    except ImportError:
        return False
    return True


# --- damaged and unfinished files (made from the fixture's bytes) ---

def _fixture_bytes() -> bytes:
    (log,) = FIXTURE.glob("*/run-*.wandb")
    return log.read_bytes()


def test_zero_padding_at_the_end_is_a_note(tmp_path):
    f = tmp_path / "run-x.wandb"
    f.write_bytes(_fixture_bytes() + bytes(20000))
    run = read_wandb(f)
    assert len(run.series["loss"]) == 20
    assert any("zero bytes" in n and "still being written" in n for n in run.notes)


def test_a_cut_last_record_is_a_note(tmp_path):
    raw = _fixture_bytes()
    f = tmp_path / "run-x.wandb"
    f.write_bytes(raw[: len(raw) - 5])
    run = read_wandb(f)
    assert run.series["loss"].values[0] == 1.0
    assert any("last" in n for n in run.notes)


def test_a_bad_checksum_in_the_middle_names_the_offset(tmp_path):
    raw = bytearray(_fixture_bytes())
    summary_at = raw.index(b"0.3333333333333333")  # wandb-core writes a summary record before each row
    history_at = raw.index(b"0.3333333333333333", summary_at + 1)
    f = tmp_path / "run-x.wandb"
    for at, verify, fails in ((history_at, False, True), (summary_at, False, False), (summary_at, True, True)):
        damaged = bytearray(raw)
        damaged[at] ^= 0x01
        f.write_bytes(bytes(damaged))
        if not fails:  # a record whose contents are not read is checked only with verify
            assert len(read_wandb(f, verify=verify).series["loss"]) == 20
            continue
        with pytest.raises(InputError, match=r"corrupt record at byte [\d,]+ \(checksum mismatch\)") as e:
            read_wandb(f, verify=verify)
        offset = int(e.value.problem.split("byte ")[1].split(" ")[0].replace(",", ""))
        assert offset < at < offset + 7 + int.from_bytes(raw[offset + 4 : offset + 6], "little")


def test_not_a_wandb_file(tmp_path):
    f = tmp_path / "run-x.wandb"
    f.write_bytes(b":W&B\xe1\xbe\x07" + bytes(100))
    with pytest.raises(InputError, match="unsupported W&B run file version 7"):
        read_wandb(f)


def test_legacy_history_and_summary(tmp_path):
    run_dir = tmp_path / "run-20200101_000000-abc"
    (run_dir / "files").mkdir(parents=True)
    summary = {"loss": 0.25, "_step": 2, "_runtime": 3.0, "_wandb": {"runtime": 3}, "val": {"loss": 0.3}}
    (run_dir / "files" / "wandb-summary.json").write_text(json.dumps(summary))
    only_summary = read_run(run_dir)
    assert only_summary.format == "wandb_summary"
    assert only_summary.series["loss"].steps.tolist() == [2] and "val/loss" in only_summary.series
    assert any("summary" in n for n in only_summary.notes)
    lines = [{"loss": 1.0, "_step": 0, "_runtime": 1.0}, {"loss": float("nan"), "_step": 1, "_runtime": 2.0},
             {"loss": 0.25, "acc": 0.5, "_step": 2, "_runtime": 3.0}]
    (run_dir / "wandb-history.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\ngarbage\n")
    history = read_run(run_dir)
    assert history.format == "wandb_history"
    assert history.series["loss"].steps.tolist() == [0, 1, 2]
    assert math.isnan(history.series["loss"].values[1])
    assert set(history.series) == {"loss", "acc"}
    assert any("skipped 1 line" in n for n in history.notes)


# --- the CSV the W&B web UI exports from a chart ---

def test_chart_csv_export(tmp_path):
    f = tmp_path / "wandb_export_2024-05-05T10_07_23.233-04_00.csv"
    f.write_text('"Step","glad-moon-1 - train/loss","glad-moon-1 - train/loss__MIN","glad-moon-1 - train/loss__MAX",'
                 '"glad-moon-1 - val/loss","glad-moon-1 - val/loss__MIN","glad-moon-1 - val/loss__MAX"\n'
                 '0,2.5,2.4,2.6,,,\n10,1.5,1.4,1.6,1.7,1.7,1.7\n20,NaN,NaN,NaN,,,\n30,0.9,0.8,1.0,1.2,1.2,1.2\n')
    assert detect_format(f) == "wandb_csv"
    run = read_run(f)
    assert set(run.series) == {"train/loss", "val/loss"}
    assert run.series["train/loss"].steps.tolist() == [0, 10, 20, 30]
    assert math.isnan(run.series["train/loss"].values[2])
    assert run.series["val/loss"].steps.tolist() == [10, 30]
    assert any("__MIN/__MAX" in n for n in run.notes)


def test_chart_csv_export_of_several_runs(tmp_path):
    f = tmp_path / "export.csv"
    f.write_text("Step,run-a - loss,run-b - loss\n0,1.0,2.0\n1,0.5,1.5\n")
    run = read_run(f)
    assert set(run.series) == {"run-a/loss", "run-b/loss"}
    assert any("2 runs" in n for n in run.notes)


def test_only_wanted_keys_are_decoded():
    (log,) = FIXTURE.glob("*/run-*.wandb")
    run = read_wandb(log, wanted=lambda key: key == "loss")
    assert set(run.series) == {"loss"} and len(run.series["loss"]) == 20
    assert any("counted, not decoded, 25 values of 3 other keys" in n for n in run.notes)
