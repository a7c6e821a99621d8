"""`lossdoctor rules` (list), `rules show ID`, `rules check PATH...`, and the README's custom rule."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lossdoctor.cli import main
from lossdoctor.exitcodes import ExitCode
from lossdoctor.engine import default_rules

ROOT = Path(__file__).parent.parent
RULES = default_rules()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def readme_rule() -> str:
    """The complete custom rule example of the README (the yaml block naming lr_too_high)."""
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    return next(b for b in blocks if b.startswith("id: lr_too_high"))


def test_list_shows_every_rule_with_severity_worst_first() -> None:
    code, out, err = invoke("rules")
    assert code == ExitCode.OK and err == ""
    rows = [re.fullmatch(r"(\w+)\s+(error|warning|info)\s+(.+)", line) for line in out.splitlines()[1:1 + len(RULES)]]
    assert all(rows), out
    assert {(m[1], m[2], m[3]) for m in rows} == {(r.id, r.severity.label, r.title) for r in RULES}
    order = {"error": 0, "warning": 1, "info": 2}
    assert [order[m[2]] for m in rows] == sorted(order[m[2]] for m in rows)


def test_list_honours_config(tmp_path: Path) -> None:
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "lr.yaml").write_text(readme_rule())
    (tmp_path / "lossdoctor.yaml").write_text(
        "rules: {plateau: {severity: error}}\nignore: [oscillation]\nrule-paths: [team]\n")
    code, out, _ = invoke("rules")
    assert code == ExitCode.OK
    assert re.search(r"^plateau\s+error\*\s+Training has plateaued$", out, re.M)
    assert re.search(r"^oscillation\s+warning\s+.*\(ignored\)$", out, re.M)
    assert re.search(r"^lr_too_high\s+error\s+Learning rate above", out, re.M) and f"{len(RULES) + 1} rules; config: lossdoctor.yaml" in out


def test_show_explains_a_rule() -> None:
    code, out, err = invoke("rules", "show", "overfitting")
    assert code == ExitCode.OK and err == ""
    rule = next(r for r in RULES if r.id == "overfitting")
    assert out.startswith("overfitting — Overfitting\nseverity: warning")
    assert "What it means:" in out and rule.description.split()[3] in out
    assert "- val_rises_after_best(min_rise=1.05)" in out
    assert "  min_rise = 1.05\n      Below a 5% rise the checkpoint choice costs too little to act on." in out
    assert all(r.text in out for r in rule.remedies)
    assert "Knowledge base (lossdoctor explain ID):\n  P2   Training falls while validation flattens" in out


def test_show_reflects_threshold_overrides(tmp_path: Path) -> None:
    (tmp_path / "lossdoctor.yaml").write_text("rules: {overfitting: {min_rise: 1.2, severity: error}}\n")
    _, out, _ = invoke("rules", "show", "overfitting")
    assert "severity: error (set by lossdoctor.yaml)" in out
    assert "  min_rise = 1.2  (set by lossdoctor.yaml)" in out and "val_rises_after_best(min_rise=1.2)" in out


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_show_works_for_every_rule_the_report_hints_at(rule) -> None:
    code, out, _ = invoke("rules", "show", rule.id)
    assert code == ExitCode.OK and out.startswith(f"{rule.id} — {rule.title}")
    assert all(f"  {name} = " in out for name in rule.params)


def test_show_unknown_rule_is_a_usage_error() -> None:
    assert invoke("rules", "show", "overfit") == (
        ExitCode.USAGE, "", "lossdoctor: error: rules show overfit: unknown rule 'overfit' "
                            "(did you mean 'overfitting'?)\n")


def test_check_accepts_the_readme_rule_and_rejects_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "lr.yaml").write_text(readme_rule())
    (tmp_path / "team" / "two.yaml").write_text(readme_rule().replace("lr_too_high", "lr_too_high_2"))
    assert invoke("rules", "check", "team") == (ExitCode.OK, "2 rules OK\n", "")
    (tmp_path / "team" / "two.yaml").write_text(readme_rule().replace("min_swing: $min_swing", "min_swing: 0.5"))
    code, out, err = invoke("rules", "check", "team")
    assert (code, out) == (ExitCode.USAGE, "")
    assert err == ("lossdoctor: error: team/two.yaml: rule lr_too_high: when.all[0].any[1].bounces.min_swing: "
                   "expected a ratio of at least 1, got 0.5\n")
    (tmp_path / "team" / "two.yaml").write_text(readme_rule().replace("lr_too_high", "divergence"))
    assert "team/two.yaml: rule divergence: id already defined in " in invoke("rules", "check", "team")[2]
    (tmp_path / "empty").mkdir()
    assert invoke("rules", "check", "empty") == (ExitCode.USAGE, "", "lossdoctor: error: empty: no *.yaml rule files\n")


def test_readme_rule_runs_in_diagnose(tmp_path: Path) -> None:
    (tmp_path / "lr.yaml").write_text(readme_rule())
    code, _, err = invoke("diagnose", str(ROOT / "examples" / "healthy"), "--rules", "lr.yaml", "--format", "json")
    assert code == ExitCode.OK, err  # a healthy run at lr <= 1e-4: silent
    zigzag = tmp_path / "zigzag.csv"
    zigzag.write_text("step,train_loss,lr\n" + "".join(f"{i},{1.3 if i % 2 else 0.7},0.001\n" for i in range(60)))
    code, out, _ = invoke("diagnose", str(zigzag), "--rules", "lr.yaml", "--fail-on", "lr_too_high",
                          "--format", "json")
    messages = [f["message"] for f in json.loads(out)["runs"][0]["findings"] if f["rule"] == "lr_too_high"]
    assert code == ExitCode.FINDINGS and messages and "learning rate is 0.001" in messages[0]
