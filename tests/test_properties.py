"""Property-based tests: parsers and the rule engine never fail on what a user can feed them.

- any text or bytes given to `read_run` is a Run or one of our typed errors;
- any numeric series (NaN, Inf, constants, 0/1 points, 1e300, 1e-300 ...) goes through
  `diagnose_run` without an exception, every finding names a logged step of the series
  it names, and every finding serialises to strict JSON (no NaN).
`EXAMPLES` counts what hypothesis ran (printed with `pytest -s`).
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lossdoctor.diagnose import Settings, diagnose_run
from lossdoctor.errors import LossdoctorError, NothingToDiagnose
from lossdoctor.frame import Run, make_series
from lossdoctor.roles import resolve
from lossdoctor.sources import read_run

sys.path.insert(0, str(Path(__file__).parent / "data" / "bad"))

EXAMPLES: Counter[str] = Counter()
# Tuned so that the whole file runs in about 15 s on 2 cores (the million-point cases take 7).
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ENGINE = settings(max_examples=300, deadline=None)
SETTINGS = Settings.default()

# Text made of the characters logs are made of, so hypothesis hits the parsers' branches.
LOG_CHARS = st.sampled_from(list('0123456789.,;\t|\n -+eE"{}[]:naifNIF_lossvaltrepchNA\r#x\\é'))
LOG_TEXT = st.text(LOG_CHARS, max_size=300)
HEADERS = st.sampled_from(["epoch,loss,val_loss\n", "step,train_loss\n", "loss\n", "epoch;loss;lr\n", ""])
VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20),
                   st.text(max_size=5), st.none(), st.booleans())
JSON_RECORD = st.dictionaries(st.sampled_from(["step", "epoch", "loss", "val_loss", "lr", " x ", "eval/loss"]),
                              st.one_of(VALUES, st.dictionaries(st.sampled_from(["loss", "a"]), VALUES, max_size=2)),
                              max_size=5)


def _read(tmp: Path, name: str, data: bytes) -> None:
    """read_run must return a Run or raise one of our typed errors, nothing else."""
    path = tmp / name
    path.write_bytes(data)
    try:
        run = read_run(path)
    except LossdoctorError:
        EXAMPLES["read_run (error)"] += 1
        return
    EXAMPLES["read_run (run)"] += 1
    for series in run.series.values():
        assert series.steps.shape == series.values.shape
        assert not np.any(np.diff(series.steps) < 0)


@FAST
@given(header=HEADERS, body=LOG_TEXT, name=st.sampled_from(["log.csv", "metrics.csv", "results.csv", "log.txt"]))
def test_random_csv_text(tmp_path: Path, header: str, body: str, name: str) -> None:
    _read(tmp_path, name, (header + body).encode("utf-8"))


@FAST
@given(records=st.lists(JSON_RECORD, max_size=12), garbage=st.lists(LOG_TEXT, max_size=3),
       name=st.sampled_from(["metrics.json", "log.jsonl", "trainer_state.json", "scalars.json"]),
       shape=st.sampled_from(["lines", "list", "state", "columns"]))
def test_random_json(tmp_path: Path, records: list, garbage: list, name: str, shape: str) -> None:
    if shape == "lines":
        lines = [json.dumps(r) for r in records] + garbage
        text = "\n".join(lines)
    elif shape == "list":
        text = json.dumps(records)
    elif shape == "state":
        text = json.dumps({"global_step": 1, "log_history": records + garbage})
    else:
        text = json.dumps({k: [r.get(k) for r in records] for r in records[:1] for k in r})
    _read(tmp_path, name, text.encode("utf-8"))


@FAST
@given(data=st.binary(max_size=400), name=st.sampled_from(["a.csv", "events.out.tfevents.1.h", "m.jsonl", "x.json"]))
def test_random_bytes(tmp_path: Path, data: bytes, name: str) -> None:
    _read(tmp_path, name, data)


@FAST
@given(data=st.binary(min_size=1, max_size=200), cut=st.integers(0, 4000))
def test_mangled_event_files(tmp_path: Path, data: bytes, cut: int) -> None:
    """A real event file cut anywhere, or with random bytes spliced in."""
    from make_bad import event_file_frames

    whole = b"".join(event_file_frames())
    cut = min(cut, len(whole))
    _read(tmp_path, "events.out.tfevents.1.h", whole[:cut] + data + whole[cut:][: len(data)])


# ---- the engine -------------------------------------------------------------------

SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e300, -1e300, 1e-300, 5e-324, 1.0])
NUMBER = st.one_of(SPECIAL, st.floats(allow_nan=True, allow_infinity=True))
SERIES = st.one_of(
    st.lists(NUMBER, max_size=80),
    st.builds(lambda v, n: [v] * n, NUMBER, st.integers(0, 200)),  # constant
    st.builds(lambda s, k, n: list(s * np.exp(-np.arange(n) / max(k, 1))), NUMBER, st.integers(1, 50),
              st.integers(0, 300)),  # a decay at any scale
)
STEPS = st.sampled_from(["range", "dup", "back", "sparse"])
NAMES = st.sampled_from([("loss", "val_loss"), ("train/box_loss", "val/box_loss"), ("loss", None),
                         ("train_loss", "eval_loss")])


def _steps(kind: str, n: int) -> np.ndarray:
    base = np.arange(n, dtype=np.float64)
    if kind == "dup":
        return np.floor(base / 2)
    if kind == "back":
        return np.concatenate([base[: n // 2], base[n // 4 : n // 4 + n - n // 2]]) if n else base
    return base * 37 if kind == "sparse" else base


def _run(series: dict[str, tuple[np.ndarray, np.ndarray]]) -> Run:
    run = Run("memory", "csv")
    for name, (steps, values) in series.items():
        run.add(make_series(name, steps, values, "step", run.notes))
    return run


def check_engine(run: Run) -> None:
    """diagnose_run never raises (but 'nothing to diagnose'); findings point at logged steps."""
    try:
        diagnosis = diagnose_run(run, SETTINGS)
    except NothingToDiagnose:
        EXAMPLES["diagnose_run (nothing)"] += 1
        return
    EXAMPLES["diagnose_run"] += 1
    known = {**run.series, **resolve(run).derived}
    for finding in diagnosis.findings:
        EXAMPLES["findings"] += 1
        json.dumps(finding.to_dict(), allow_nan=False)
        if finding.step is not None:
            assert finding.metric in known, finding
            assert finding.step in set(known[finding.metric].steps.tolist()), finding
    json.dumps(diagnosis.to_dict(), allow_nan=False)


@ENGINE
@given(train=SERIES, val=st.one_of(st.none(), SERIES), names=NAMES, kind=STEPS, extra=st.one_of(st.none(), SERIES))
def test_engine_on_any_series(train: list, val: list | None, names: tuple, kind: str, extra: list | None) -> None:
    series = {names[0]: (_steps(kind, len(train)), np.array(train, np.float64))}
    if val is not None and names[1] is not None:
        series[names[1]] = (_steps("range", len(val)) * 3, np.array(val, np.float64))
    if extra is not None and names[0].startswith("train/"):  # a second loss term: summed total
        series["train/cls_loss"] = (_steps(kind, len(extra)), np.array(extra, np.float64))
    if extra is not None:
        series["learning_rate"] = (_steps("range", len(extra)), np.abs(np.array(extra, np.float64)))
    check_engine(_run(series))


def test_a_logged_zero_after_a_jump_is_not_a_nan_to_climb_into() -> None:
    """Hypothesis's find: a loss that jumps 7x and then logs an exact 0 (its log is -inf, which
    the events read as non-finite) beside a learning rate that is NaN. The rate-growth
    reading looked for the NaN the climb ran into and found none (an IndexError)."""
    train = [6457548686756450.0, 4.430608247832182e16, 4.430608247832182e16, 8313672556361162.0,
             1e-300, 2.081002140224484e16, 0.0]
    check_engine(_run({"loss": (_steps("range", len(train)), np.array(train)),
                       "learning_rate": (_steps("range", 1), np.array([np.nan]))}))


@pytest.mark.parametrize("make", [
    lambda n: np.linspace(5, 0.1, n),
    lambda n: np.full(n, 1e300),
    lambda n: np.where(np.arange(n) % 1000 == 999, np.nan, np.random.default_rng(0).random(n)),
], ids=["decay", "huge-constant", "noise-with-nans"])
def test_engine_on_a_million_points(make: object) -> None:
    n = 10**6
    values = make(n)
    check_engine(_run({"loss": (np.arange(n, dtype=np.float64), values),
                       "val_loss": (np.arange(0, n, 1000, dtype=np.float64), values[::1000] * 1.1)}))


def test_loss_terms_summing_past_the_float_limit_warn_nothing() -> None:
    """Two loss terms near 1e308 sum to Inf: the report says so, the terminal gets no numpy warning."""
    steps = np.arange(50, dtype=np.float64)
    terms = {f"train/{t}_loss": (steps, np.full(50, 1e308)) for t in ("box", "cls")}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        check_engine(_run(terms))
        (total,) = resolve(_run(terms)).derived.values()
        assert not np.isfinite(total.values).any()


def teardown_module() -> None:
    print("\nhypothesis/explicit examples run:", dict(EXAMPLES))
