"""The mutation fuzzer (benchmarks/fuzz.py) in CI: a fixed number of mutants from a fixed
seed (reproducible: the same inputs on every machine), and every input it ever crashed on
(tests/data/fuzz/<case>/: input/ and case.json) replayed through every output format.

A case whose defect belongs to another change in flight says so in case.json ("pending":
who fixes it); it is an expected failure until that change lands, then an ordinary test.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FUZZ = ROOT / "benchmarks" / "fuzz.py"
CASES = sorted(p.parent for p in (ROOT / "tests" / "data" / "fuzz").glob("*/case.json"))


def _load(name: str):
    if str(FUZZ.parent) not in sys.path:
        sys.path.insert(0, str(FUZZ.parent))
    return importlib.import_module(name)


def _fuzz(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(FUZZ), "--out", str(out), "--minimize", "0", *args],
                          capture_output=True, text=True, cwd=ROOT)
    summary = json.loads((out / "summary.json").read_text())
    summary["stdout"] = proc.stdout
    return summary


def _clean(summary: dict) -> None:
    assert summary["inputs"] > 0
    assert (summary["crash"], summary["hang"], summary["memory"]) == (0, 0, 0), summary["stdout"]


def test_fuzz_short_budget_finds_nothing(tmp_path: Path) -> None:
    _clean(_fuzz(tmp_path, "--inputs", "24", "--seed", "1414"))


@pytest.mark.slow
def test_fuzz_longer_budget_finds_nothing(tmp_path: Path) -> None:
    # 50 inputs (~50 s on one core; 100 took 93 s, a sixth of CI's time on 2026-12-03, 300 took
    # 306 s); long budgets are benchmarks/fuzz.py's job (30 minutes, 5,070 inputs, measured in
    # the README), and every input they ever found is replayed by the test below.
    _clean(_fuzz(tmp_path, "--inputs", "50", "--seed", "2718"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fuzz_regression_input_exits_cleanly(tmp_path: Path, case: Path) -> None:
    pending = json.loads((case / "case.json").read_text()).get("pending")
    if pending:
        pytest.xfail(f"fixed by {pending}")
    _clean(_fuzz(tmp_path, "--replay", str(case)))


def test_injection_check_tells_forged_lines_from_own_annotations() -> None:
    run = _load("fuzz_run")
    assert run.violations("plain", "loss\n::error::FUZZ\n", "")
    assert run.violations("json", "{}", "lossdoctor: error: x\n::add-mask::y\n")
    assert run.violations("github", "::error::forged\n", "")
    assert not run.violations("github", "::error file=a.csv,title=t::msg%0A::error::x\n", "")
    assert run.violations("json", '{"a": "\x1b[2J"}', "")
    assert not run.violations("rich", "\x1b[1mbold\x1b[0m\n", "")
    assert run.violations("rich", "\x1b]0;title\x07\n", "")


def test_mutants_are_reproducible(tmp_path: Path) -> None:
    mutate = _load("fuzz_mutate")
    units = mutate.seeds(ROOT / "tests" / "data")
    made = []
    for n in range(2):
        import random

        rng = random.Random("5:3")
        into = tmp_path / str(n)
        target, done = mutate.write_mutant(rng, rng.choice(units), rng.choice(units), into)
        made.append((target, done, sorted((p.relative_to(into), p.read_bytes()) for p in into.rglob("*")
                                          if p.is_file())))
    assert made[0] == made[1]


def test_crashes_are_minimised_after_the_loop_not_inside_it(tmp_path: Path, monkeypatch) -> None:
    # Minimising inside the scheduling loop stalled it while the other slots' deadlines ran on:
    # the next input of another slot was then reported as a hang (seeds 31 and 53).
    fuzz, minimize, run = _load("fuzz"), _load("fuzz_minimize"), _load("fuzz_run")
    calls = []
    monkeypatch.setattr(minimize, "minimise", lambda dest, o, budget, mem: calls.append(dest))
    fuzzer = fuzz.Fuzzer(fuzz.parse(["--out", str(tmp_path / "out"), "--minimize", "5"]))
    job = fuzz.Input(0, tmp_path / "job", "a.csv", ["none"], [])
    (job.case).mkdir(parents=True)
    (job.case / "a.csv").write_text("step,loss\n1,2\n")
    crash = run.Outcome(["diagnose", str(job.case / "a.csv")], "crash", 70, "boom")
    fuzzer._save(job, crash, "crash diagnose x.py:f ValueError", [crash.argv])
    assert calls == []
    fuzzer._minimise_saved()
    assert len(calls) == 1 and (calls[0] / "case.json").is_file()
