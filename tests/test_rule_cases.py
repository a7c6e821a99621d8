"""Per-rule cases as data (tests/rules/cases/<rule>.yaml): logs a rule must fire on, with
the metric and step it must report, and logs it must stay silent on."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from conftest import CORPUS
from lossdoctor.diagnose import Settings, diagnose_path
from lossdoctor.findings import Diagnosis
from lossdoctor.engine import default_rules
from synthetic import MAKERS

CASES = Path(__file__).parent / "rules" / "cases"
SETTINGS = Settings.default()


def load_cases() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(CASES.glob("*.yaml"))}


ALL = load_cases()


GENERATED = Path(__file__).parents[1] / "benchmarks" / "sets" / "generated" / "runs"


@lru_cache(maxsize=None)
def diagnosis(log: str, synthetic_root: str) -> Diagnosis:
    """`corpus:<run>` (real public logs), `generated:<run>` (small real trainings with an
    injected fault, benchmarks/sets/generated), `synthetic:<maker>` (tests/synthetic.py)."""
    kind, name = log.split(":", 1)
    if kind == "synthetic":
        return diagnose_path(MAKERS[name](Path(synthetic_root)), SETTINGS)
    return diagnose_path((CORPUS if kind == "corpus" else GENERATED) / name, SETTINGS)


FIRE = [pytest.param(rule, case, id=f"{rule}-fires-{case['log']}")
        for rule, doc in ALL.items() for case in doc["fire"]]
SILENT = [pytest.param(rule, log, id=f"{rule}-silent-{log}")
          for rule, doc in ALL.items() for log in doc["silent"]]


@pytest.mark.parametrize("rule,case", FIRE)
def test_rule_fires(rule: str, case: dict, synthetic_dir: Path) -> None:
    found = [f for f in diagnosis(case["log"], str(synthetic_dir)).findings if f.rule == rule]
    assert found, f"{rule} did not fire"
    if "metric" in case:
        found = [f for f in found if f.metric == case["metric"]]
        assert found, f"{rule} fired, but not on {case['metric']}"
    if "severity" in case:  # a rule's milder reading is the same rule at a lower severity
        found = [f for f in found if f.severity.label == case["severity"]]
        assert found, f"{rule} fired, but not at {case['severity']}"
    if "step" in case:
        steps = [f.step for f in found]
        assert any(abs(s - case["step"]) <= case.get("tolerance", 0) for s in steps), steps


@pytest.mark.parametrize("rule,log", SILENT)
def test_rule_stays_silent(rule: str, log: str, synthetic_dir: Path) -> None:
    fired = [f for f in diagnosis(log, str(synthetic_dir)).findings if f.rule == rule]
    assert not fired, fired[0].message


def test_every_rule_has_cases_both_ways() -> None:
    ids = {r.id for r in default_rules()}
    assert ids == set(ALL), ids ^ set(ALL)
    for rule, doc in ALL.items():
        assert doc["rule"] == rule and doc["fire"] and doc["silent"], rule
