"""Config layering (packaged <- pyproject <- nearest lossdoctor.yaml <- --config <- flags) and
every config error: exit 2 with one located message on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lossdoctor import config as config_module
from lossdoctor.cli import main
from lossdoctor.exitcodes import ExitCode

ROOT = Path(__file__).parent.parent
OVERFIT = str(ROOT / "examples" / "overfitting")  # one overfitting warning at step 1,000, rise 57%
CUSTOM_RULE = """id: always_{n}
title: Always fires
severity: warning
description: Fires on every run with a training loss.
when:
  has: {{slot: train_loss}}
message: "{{metric}} is here"
remedies: ["Nothing to do."]
metadata: {{knowledge: [P1]}}
"""


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the current directory (tmp dirs hold no lossdoctor.yaml above)."""
    folder = tmp_path / "proj"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert config_module.project_layer(folder) is None
    return folder


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def overfitting(*args: str) -> tuple[int, dict | None]:
    """Exit code and the overfitting finding (None when silent)."""
    code, out, err = invoke("diagnose", OVERFIT, "--format", "json", *args)
    assert code in (0, 1), err
    found = [f for f in json.loads(out)["runs"][0]["findings"] if f["rule"] == "overfitting"]
    return code, found[0] if found else None


def test_repo_pyproject_has_no_lossdoctor_table() -> None:
    assert config_module.pyproject_table(ROOT / "pyproject.toml") is None


def test_each_layer_wins_over_the_previous(proj: Path) -> None:
    assert overfitting()[0] == ExitCode.OK  # packaged: fail-on error, overfitting is a warning
    (proj / "pyproject.toml").write_text('[tool.lossdoctor]\nfail-on = "warning"\n')
    assert overfitting()[0] == ExitCode.FINDINGS  # pyproject wins over packaged
    (proj / "lossdoctor.yaml").write_text("fail-on: error\n")
    assert overfitting()[0] == ExitCode.OK  # lossdoctor.yaml wins over pyproject (same folder)
    (proj / "ci.yaml").write_text("fail-on: [overfitting]\n")
    assert overfitting("--config", "ci.yaml")[0] == ExitCode.FINDINGS  # --config wins over project
    assert overfitting("--config", "ci.yaml", "--fail-on", "never")[0] == ExitCode.OK  # flags win


def test_nearest_project_file_wins(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (proj / "lossdoctor.yaml").write_text("fail-on: warning\n")
    sub = proj / "sub" / "deeper"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert overfitting()[0] == ExitCode.FINDINGS  # found walking up
    (proj / "sub" / "pyproject.toml").write_text('[tool.lossdoctor]\nfail-on = "error"\n')
    assert overfitting()[0] == ExitCode.OK  # the nearer pyproject wins
    (proj / "sub" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert overfitting()[0] == ExitCode.FINDINGS  # a pyproject without the table is skipped


def test_severity_and_threshold_overrides_layer(proj: Path) -> None:
    (proj / "lossdoctor.yaml").write_text("rules:\n  overfitting: {severity: error}\n")
    code, found = overfitting()
    assert code == ExitCode.FINDINGS and found["severity"] == "error"
    (proj / "ci.yaml").write_text("rules:\n  overfitting: {min_rise: 1.6}\n")
    assert overfitting("--config", "ci.yaml") == (ExitCode.OK, None)  # 57% < 60%: silent
    (proj / "ci.yaml").write_text("rules:\n  overfitting: {severity: info}\n")
    assert overfitting("--config", "ci.yaml")[1]["severity"] == "info"


def test_ignore_adds_up_and_metrics_merge_by_role(proj: Path) -> None:
    (proj / "lossdoctor.yaml").write_text("ignore: [overfitting]\n")
    assert overfitting() == (ExitCode.OK, None)
    log = proj / "log.csv"
    log.write_text("epoch,objective,holdout,other\n"
                   + "".join(f"{i},{2 / (i + 1)},{2.1 / (i + 1)},{3 / (i + 1)}\n" for i in range(10)))
    (proj / "lossdoctor.yaml").write_text("metrics: {train_loss: objective, val_loss: holdout}\n")
    code, out, _ = invoke("diagnose", str(log), "--format", "json", "--metric", "train_loss=other")
    assert code == ExitCode.OK
    assert json.loads(out)["runs"][0]["metrics"] == {"train_loss": "other", "val_loss": "holdout"}


def test_rule_paths_are_relative_to_the_config_file(proj: Path) -> None:
    (proj / "conf" / "rules").mkdir(parents=True)
    (proj / "conf" / "rules" / "a.yaml").write_text(CUSTOM_RULE.format(n="a"))
    (proj / "conf" / "ld.yaml").write_text("rule-paths: [rules]\nfail-on: [always_a]\n")
    code, out, _ = invoke("diagnose", OVERFIT, "--format", "json", "--config", "conf/ld.yaml")
    assert code == ExitCode.FINDINGS
    assert "always_a" in {f["rule"] for f in json.loads(out)["runs"][0]["findings"]}


def write_and_fail(proj: Path, text: str, *args: str, name: str = "lossdoctor.yaml") -> str:
    (proj / name).write_text(text)
    code, out, err = invoke("diagnose", OVERFIT, *args)
    assert code == ExitCode.USAGE and out == "", err
    assert err.startswith("lossdoctor: error: ") and err.count("\n") == 1
    return err[len("lossdoctor: error: "):-1]


@pytest.mark.parametrize("text, message", [
    ("fail_on: warning\n",
     "lossdoctor.yaml: unknown key 'fail_on' (did you mean 'fail-on'?)"),
    ("rules:\n  overfit: {severity: error}\n",
     "lossdoctor.yaml: rules.overfit: unknown rule 'overfit' (did you mean 'overfitting'?)"),
    ("rules:\n  overfitting: {min_drop: 3}\n",
     "lossdoctor.yaml: rules.overfitting.min_drop: expected a fraction between 0 and 1, got 3"),
    ("rules:\n  overfitting: {patience: 3}\n",
     "lossdoctor.yaml: rules.overfitting.patience: unknown threshold "
     "(overfitting has: min_rise, min_drop)"),
    ("rules:\n  inverted_gap: {min_points: 1.5}\n",
     "lossdoctor.yaml: rules.inverted_gap.min_points: expected a positive integer, got 1.5"),
    ("rules:\n  inverted_gap: {min_ratio: 0.5}\n",
     "lossdoctor.yaml: rules.inverted_gap.min_ratio: expected a ratio of at least 1, got 0.5"),
    ("rules:\n  overfitting: {min_drop: high}\n",
     "lossdoctor.yaml: rules.overfitting.min_drop: expected a number, got 'high'"),
    ("rules:\n  overfitting: {severity: critical}\n",
     "lossdoctor.yaml: rules.overfitting.severity: unknown severity 'critical' (expected info, warning or error)"),
    ("rules:\n  overfitting: error\n",
     "lossdoctor.yaml: rules.overfitting: expected a mapping of severity and thresholds, got 'error'"),
    ("fail-on: sometimes\n",
     "lossdoctor.yaml: fail-on: 'sometimes' is neither a severity (info, warning, error, never) nor a rule id"),
    ("fail-on: 3\n",
     "lossdoctor.yaml: fail-on: expected a severity (info, warning, error, never) or a list of rule ids, got 3"),
    ("ignore: [plateau, overfit]\n",
     "lossdoctor.yaml: ignore[1]: unknown rule 'overfit' (did you mean 'overfitting'?)"),
    ("metrics: {speed: loss}\n",
     "lossdoctor.yaml: metrics.speed: unknown role 'speed' "
     "(roles: train_loss, val_loss, train_acc, val_acc, lr, grad_norm, loss_scale, skipped_steps)"),
    ("rule-paths: [ci/rules]\n", "lossdoctor.yaml: rule-paths[0]: ci/rules: no such rule file or folder"),
    ("fail-on: !!python/object/apply:os.system [echo hi]\n",
     "lossdoctor.yaml: line 1: tag '!!python/object/apply:os.system' is not allowed (config files are plain YAML)"),
    ("- a\n- b\n", "lossdoctor.yaml: top level: expected a mapping of settings, got list"),
])
def test_config_errors_name_the_file_and_key(proj: Path, text: str, message: str) -> None:
    assert write_and_fail(proj, text) == message


def test_malformed_yaml_names_the_line(proj: Path) -> None:
    message = write_and_fail(proj, "ignore: [plateau]\nrules: {overfitting: [\n")
    assert message.startswith("lossdoctor.yaml: not valid YAML: ") and message.endswith("(line 3)")


def test_pyproject_errors_give_the_table_path(proj: Path) -> None:
    text = '[tool.lossdoctor.rules.overfitting]\nmin_drop = 3\n'
    assert write_and_fail(proj, text, name="pyproject.toml") == \
        "pyproject.toml: tool.lossdoctor.rules.overfitting.min_drop: expected a fraction between 0 and 1, got 3"
    assert write_and_fail(proj, '[tool.lossdoctor]\nbogus = 1\n', name="pyproject.toml") == \
        "pyproject.toml: tool.lossdoctor: unknown key 'bogus' (allowed: fail-on, ignore, rules, metrics, rule-paths)"
    assert write_and_fail(proj, '[tool.lossdoctor\n', name="pyproject.toml").startswith(
        "pyproject.toml: not valid TOML: ")


def test_pyproject_without_a_toml_parser(proj: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_module, "_toml", None)  # Python 3.10 without tomli
    (proj / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert overfitting()[0] == ExitCode.OK  # no [tool.lossdoctor]: nothing to say
    assert write_and_fail(proj, '[tool.lossdoctor]\nfail-on = "warning"\n', name="pyproject.toml") == \
        "pyproject.toml: [tool.lossdoctor] needs Python 3.11 or the tomli package (pip install tomli)"


def test_missing_config_file(proj: Path) -> None:
    code, out, err = invoke("diagnose", OVERFIT, "--config", "nope.yaml")
    assert (code, out, err) == (ExitCode.USAGE, "", "lossdoctor: error: nope.yaml: no such config file (--config)\n")


def test_bad_extra_rule_file_is_located(proj: Path) -> None:
    (proj / "ci" / "rules").mkdir(parents=True)
    (proj / "ci" / "rules" / "bad.yaml").write_text(
        CUSTOM_RULE.format(n="b").replace("has: {slot: train_loss}", "rising_slop: {slot: train_loss}"))
    assert write_and_fail(proj, "rule-paths: [ci/rules]\n") == \
        "ci/rules/bad.yaml: rule always_b: when: unknown predicate 'rising_slop'"
    (proj / "ci" / "rules" / "bad.yaml").write_text(CUSTOM_RULE.format(n="b").replace("always_b", "divergence"))
    assert write_and_fail(proj, "rule-paths: [ci/rules]\n").startswith(
        "ci/rules/bad.yaml: rule divergence: id already defined in ")


def test_config_in_a_bad_layer_fails_even_when_flags_override_it(proj: Path) -> None:
    assert write_and_fail(proj, "fail-on: sometimes\n", "--fail-on", "never").startswith("lossdoctor.yaml: fail-on:")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
def test_toml_config_file_via_flag(proj: Path) -> None:
    (proj / "ci.toml").write_text('[tool.lossdoctor]\nfail-on = ["overfitting"]\n')
    assert overfitting("--config", "ci.toml")[0] == ExitCode.FINDINGS
