"""Big logs: detection on every point, fast readers equal to the careful ones, pathological curves.

No timing here (speed is measured by benchmarks/bench_read.py); these tests pin what the
fast paths must not change.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from lossdoctor.diagnose import Settings, diagnose_path, diagnose_run
from lossdoctor.errors import InputError
from lossdoctor.frame import Run, Series
from lossdoctor.report.sparkline import NONFINITE, sparkline
from lossdoctor.engine import default_rules
from lossdoctor.engine.curves.excursions import point_excursions
from lossdoctor.sources import csv_logs, read_run, records


def _only(*ids: str) -> Settings:
    return Settings(rules=tuple(r for r in default_rules() if r.id in ids))


def test_one_nan_among_5m_points_is_found_at_its_step() -> None:
    n, at = 5_000_000, 2_500_017
    values = 2.0 * np.exp(-np.arange(n) / n) + 0.1
    values[at] = np.nan
    steps = np.arange(n, dtype=np.float64) * 2  # steps != indices: the step must be the logged one
    run = Run("big", "tensorboard", {"loss": Series("loss", steps, values)})
    diagnosis = diagnose_run(run, _only("nan_loss"))
    (finding,) = [f for f in diagnosis.findings if f.rule == "nan_loss"]
    assert finding.step == steps[at]
    assert finding.evidence["count"] == 1 and diagnosis.points == n
    assert NONFINITE in sparkline(run.series["loss"])  # the 48-column picture still shows it


# --- fast readers vs the careful paths ---------------------------------------------------

QUIRKY_CSV = """epoch,loss,val_loss,acc,lr,note
0,2.5,NA,0.1,1e-3,start
1,2.0,,0.2,1e-3,
2,nan,1.9,0.3,1e-3,x
3,inf,N/A,"0.4",1e-3,
4,1.5,null,0.5,none,
5,-Infinity,1.7, 0.6 ,1e-3,
6,1.2,NaN,abc,1e-3,
7,1.1,1.6,0.7,<NA>,
"""


def _run_dump(run: Run) -> tuple:
    return (run.format, [(k, s.axis, s.resumed, s.steps.tolist(), s.values.tobytes()) for k, s in run.series.items()],
            run.notes)


def _big_quirky_csv(tmp_path: Path) -> Path:
    """The quirks above, repeated past pandas' chunk size so chunk-wise type inference is exercised."""
    head, *rows = QUIRKY_CSV.strip().split("\n")
    body = [f"{e * 8 + int(r.split(',', 1)[0])},{r.split(',', 1)[1]}" for e in range(1000) for r in rows]
    body += [f"{8000 + i},{1 / (i + 1)},{'' if i % 3 else 0.5},0.9,1e-4,ok" for i in range(40_000)]
    body[40_000] = "40000,2.0,NA,0.5,oops,late text"  # lr: numbers in early chunks, text late
    path = tmp_path / "quirky.csv"
    path.write_text(head + "\n" + "\n".join(body) + "\n", encoding="utf-8")
    return path


def test_csv_fast_path_equals_text_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in (_big_quirky_csv(tmp_path), tmp_path / "small.csv"):
        if path.name == "small.csv":
            path.write_text(QUIRKY_CSV, encoding="utf-8")
        text = path.read_text(encoding="utf-8")
        assert csv_logs._fast_columns(text, csv_logs.sniff_table(text)) is not None  # the fast path is taken
        fast = _run_dump(read_run(path))
        with monkeypatch.context() as m:
            m.setattr(csv_logs, "_fast_columns", lambda body, shape: None)
            slow = _run_dump(read_run(path))
        assert fast == slow
    run = read_run(tmp_path / "small.csv")
    loss, val = run.series["loss"], run.series["val_loss"]
    assert np.isnan(loss.values[2]) and loss.values[3] == np.inf and loss.values[5] == -np.inf
    assert list(val.steps) == [2, 5, 6, 7] and np.isnan(val.values[2])  # NA/empty/null not logged, NaN kept
    assert list(run.series["acc"].values) == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]  # 'abc' skipped
    assert any("acc: 1 non-numeric" in note for note in run.notes)


QUIRKY_LINES = [
    '{"iteration": 0, "total_loss": 2.5, "lr": 0.001, "eval": {"loss": 3.0}}',
    '{"iteration": 1, "total_loss": NaN, "lr": "0.001"}',
    'garbage line {',
    '{"iteration": 2, "total_loss": Infinity, "lr": null, "flag": true}',
    '  {"iteration": 3, "total_loss": -Infinity, "lr": "NA"}  ',
    '[1, 2]',
    '{"iteration": 4, "total_loss": "1.5", "lr": "abc", " padded ": 1}',
    '{"total_loss": 1.2}',
    '{"iteration": "nan", "total_loss": 1.1}',
    '{"iteration": 7, "total_loss": 1.0, "lr": 0.0005}',
]


def test_jsonl_fast_path_equals_per_value_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "metrics.json"
    plain = [json.dumps({"iteration": 8 + i, "total_loss": 1 / (i + 1), "lr": 1e-4}) for i in range(2000)]
    path.write_text("\n".join(QUIRKY_LINES + plain) + "\n", encoding="utf-8")
    fast = _run_dump(read_run(path))
    with monkeypatch.context() as m:
        m.setattr(records, "_PLAIN_NUMBERS", frozenset())  # every value through to_float
        m.setattr(records, "flatten_all", lambda recs: [records.flatten(r) for r in recs])
        m.setattr("lossdoctor.sources.jsonl.flatten_all", lambda recs: [records.flatten(r) for r in recs])
        slow = _run_dump(read_run(path))
    assert fast == slow
    run = read_run(path)
    loss = run.series["total_loss"]
    assert np.isnan(loss.values[1]) and loss.values[2] == np.inf and loss.values[3] == -np.inf
    assert loss.values[4] == 1.5 and len(loss) == 2008
    assert "eval/loss" in run.series and "padded" in run.series
    assert any("skipped 2 lines" in note for note in run.notes)
    assert any("records without 'iteration'" in note for note in run.notes)


# --- pathological curves --------------------------------------------------------------------


def _diagnose(values: np.ndarray) -> object:
    run = Run("p", "csv", {"loss": Series("loss", np.arange(values.size, dtype=np.float64), values)})
    return diagnose_run(run, Settings.default())


def test_every_third_point_a_spike() -> None:
    """100,000 jumps in one curve are its own noise, not 100,000 excursions: the diagnosis
    calls it what it is, a loss that swings with a period."""
    n = 300_000
    values = np.where(np.arange(n) % 3 == 2, 10.0, 1.0)
    assert point_excursions(np.arange(n, dtype=float), np.log(values)) == []
    rules = {f.rule for f in _diagnose(values).findings}
    assert "oscillation" in rules and "loss_spike" not in rules


@pytest.mark.parametrize("values, fired", [
    (np.full(10_000, np.nan), {"nan_loss"}),
    (np.full(10_000, 0.7), set()),
    (np.array([0.5]), set()),
])
def test_degenerate_curves(values: np.ndarray, fired: set[str]) -> None:
    d = _diagnose(values)
    assert {f.rule for f in d.findings} & {"nan_loss", "divergence", "loss_spike", "overfitting"} == fired


def test_long_validation_curve_stays_bounded() -> None:
    """A validation loss logged 20,000 times (found by benchmarks/fuzz.py: a repeated chunk of
    a Keras CSV): the best-and-after trend was O(n^2) in memory (200M pairs, >2 GB) and the
    train-above-val sign test overflowed at 2.0 ** n past 1,023 points (exit 70)."""
    import tracemalloc

    n = 20_000
    steps = np.arange(n, dtype=np.float64)
    val = 1.0 + 0.1 * np.exp(-steps / 50) + 0.01 * np.sin(steps)
    run = Run("p", "csv", {"loss": Series("loss", steps, val * 1.2), "val_loss": Series("val_loss", steps, val)})
    tracemalloc.start()
    try:
        diagnose_run(run, Settings.default())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 400 << 20


def test_sign_test_of_many_points_is_a_probability() -> None:
    from math import comb

    from lossdoctor.engine.curves.gap import sign_test_p

    x = np.r_[np.ones(2600), -np.ones(2400)]
    assert 0.0 < sign_test_p(x) < 0.01
    x = np.r_[np.ones(521), -np.ones(480)]  # just past the exact sum: the normal tail agrees with it
    exact = sum(comb(1001, j) for j in range(521, 1002)) / (1 << 1001)
    assert abs(sign_test_p(x) - exact) < 1e-3


# --- --verify -------------------------------------------------------------------------------


def _event_file(path: Path) -> Path:
    """A tiny event file: a version record and 20 simple_value scalars (tensorboard's writer)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    with open(path, "wb") as fh:
        w = RecordWriter(fh)
        w.write(event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString())
        for step in range(20):
            v = summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (step + 1))
            w.write(event_pb2.Event(wall_time=2.0, step=step, summary=summary_pb2.Summary(value=[v])).SerializeToString())
    return path


def test_verify_catches_a_flipped_data_byte(tmp_path: Path) -> None:
    path = _event_file(tmp_path / "events.out.tfevents.1")
    data = bytearray(path.read_bytes())
    at = data.rindex(struct.pack("<f", 1.0 / 20))  # the last value's bytes
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    assert len(diagnose_path(path, _only("nan_loss")).curves["train_loss"]) == 20  # unchecked: read as is
    with pytest.raises(InputError, match="checksum"):
        diagnose_path(path, Settings(rules=_only("nan_loss").rules, verify=True))
