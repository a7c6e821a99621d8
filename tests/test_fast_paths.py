"""The shortcuts `audit` speed depends on give exactly the answers of the plain forms.

Rolling medians by sorted windows vs pandas' rolling median, `medians.median` vs
np.median (to the bit, sign of zero included), the engine's compiled rules vs fresh
parameters, and the scandir-based folder planning vs pathlib's glob/rglob.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lossdoctor.engine import medians
from lossdoctor.diagnose import Settings, diagnose_run
from lossdoctor.frame import Run, make_series
from lossdoctor.engine import default_rules
from lossdoctor.sources import csv_logs, read_run
from lossdoctor.sources.formats import _trainer_state, sniff
from lossdoctor.sources.listing import list_folder

FAST = settings(max_examples=300, deadline=None)
floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
# Few distinct values: ties, repeated zeros and even-sized windows get exercised.
coarse = st.sampled_from([-2.5, -1.0, -0.0, 0.0, 0.25, 1.0, 1.0 + 2**-52, 3.0])
curves = st.one_of(st.lists(floats, min_size=1, max_size=120), st.lists(coarse, min_size=1, max_size=120))


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True) and \
        np.array_equal(np.signbit(a), np.signbit(b))


@FAST
@given(st.lists(st.one_of(floats, coarse, st.sampled_from([np.nan, np.inf, -np.inf])), min_size=1, max_size=80))
def test_median_is_numpys_to_the_bit(values: list[float]) -> None:
    x = np.array(values)
    with np.errstate(invalid="ignore"):
        assert same_bits(np.array(medians.median(x)), np.array(np.median(x)))


@FAST
@given(curves, st.sampled_from([3, 5, 9, 21]))
def test_centred_median_is_pandas_rolling_median(values: list[float], window: int) -> None:
    x = np.array(values)
    expected = pd.Series(x).rolling(window, center=True, min_periods=1).median().to_numpy()
    assert same_bits(medians.centred(x, window), expected)


@FAST
@given(curves, st.integers(1, 12))
def test_trailing_median_is_pandas_shifted_rolling_median(values: list[float], window: int) -> None:
    x = np.array(values)
    expected = pd.Series(x).shift(1).rolling(window, min_periods=window).median().to_numpy()
    assert same_bits(medians.trailing(x, window), expected)


def test_long_curves_take_pandas_path_with_the_same_answer() -> None:
    rng = np.random.default_rng(3)
    for n in (400, 1700, 5000):  # around and beyond SMALL_WINDOW_CELLS
        x = np.exp(-np.arange(n) / 300) + rng.normal(0, 0.01, n)
        w = 2 * (n // 20) + 1
        expected = pd.Series(x).rolling(w, center=True, min_periods=1).median().to_numpy()
        assert same_bits(medians.centred(x, w), expected)


def overfit_run() -> Run:
    steps = np.arange(40.0)
    val = np.where(steps < 20, 1.0 - steps * 0.02, 0.6 + (steps - 20) * 0.02)
    run = Run("mem", "csv")
    run.add(make_series("loss", steps, 1.0 - steps * 0.02))
    run.add(make_series("val_loss", steps, val))
    return run


def test_compiled_rules_follow_parameter_overrides() -> None:
    rules = default_rules()
    fired = {f.rule for f in diagnose_run(overfit_run(), Settings(tuple(rules))).findings}
    assert "overfitting" in fired
    strict = tuple(r.with_overrides(None, {"min_rise": 50.0}) if r.id == "overfitting" else r for r in rules)
    fired = {f.rule for f in diagnose_run(overfit_run(), Settings(strict)).findings}
    assert "overfitting" not in fired  # the override is seen, not a stale compiled copy


def test_newest_checkpoint_matches_glob(tmp_path: Path) -> None:
    for name in ("checkpoint-50", "checkpoint-200", "checkpoint-1000", "checkpoint-x", "checkpoint-300"):
        (tmp_path / name).mkdir()
        if name != "checkpoint-1000":  # no state in the largest: it does not count
            (tmp_path / name / "trainer_state.json").write_text("{}")
    newest = _trainer_state(list_folder(str(tmp_path)))
    assert newest == str(tmp_path / "checkpoint-300" / "trainer_state.json")


@pytest.mark.parametrize(("lines", "fmt"), [
    ([json.dumps({"log_history": []})], "hf_trainer_state"),  # one line, not parsed by the sniffer
    (["{", '  "log_history": []', "}"], "hf_trainer_state"),  # pretty-printed, as HF writes it
    ([json.dumps({"loss": 1.0, "step": 1}), json.dumps({"loss": 0.5, "step": 2})], "hf_trainer_state"),
    (["{cut off", json.dumps({"loss": 0.5, "step": 2})], "jsonl"),  # JSON lines under that name
])
def test_trainer_state_name_sniffing(tmp_path: Path, lines: list[str], fmt: str) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text("\n".join(lines) + "\n")
    assert sniff(path) == fmt


@pytest.mark.parametrize("missing", ["", "NA", "n/a", "<NA>", "null", "None", "NULL"])
def test_csv_missing_spellings_are_not_logged(tmp_path: Path, missing: str) -> None:
    path = tmp_path / "log.csv"
    path.write_text(f"epoch,loss,val_loss\n0,1.0,{missing}\n1,0.9,0.95\n2,0.8,{missing}\n3,0.7,0.85\n")
    run = read_run(path)
    assert list(run.series["val_loss"].steps) == [1, 3]
    assert list(run.series["loss"].values) == [1.0, 0.9, 0.8, 0.7]


def test_csv_small_and_big_tables_read_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "log.csv"
    path.write_text("step,loss,acc\n" + "".join(f"{i},{1 / (i + 1)!r},{i % 7}\n" for i in range(300)))
    small = read_run(path)
    monkeypatch.setattr(csv_logs, "SMALL_TABLE", 0)  # every column converted on its own
    big = read_run(path)
    assert small.series.keys() == big.series.keys()
    for name in small.series:
        assert same_bits(small.series[name].values, big.series[name].values)
        assert same_bits(small.series[name].steps, big.series[name].steps)


def test_progress_grid_medians_equal_numpys_per_bin() -> None:
    """grid() takes every bin's median in one pass; each must be np.median of that bin's points."""
    from lossdoctor.engine.curves.timescale import grid

    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(51, 3000))
        steps = np.sort(rng.choice(100_000, n, replace=False)).astype(float)
        y = rng.normal(size=n)
        y[rng.random(n) < 0.05] = np.nan
        bt, bv = grid(steps, y)
        ok = np.isfinite(y)
        t, v = steps[ok], y[ok]
        edges = np.linspace(t[0], t[-1], 51)
        which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, 49)
        bins = np.unique(which)
        assert np.array_equal(bt, [np.median(t[which == k]) for k in bins])
        assert np.array_equal(bv, [np.median(v[which == k]) for k in bins])
