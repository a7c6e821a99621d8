"""The command line: exit codes, stdout/stderr separation, formats, options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CORPUS
from lossdoctor.cli import main
from lossdoctor.exitcodes import ExitCode

EXAMPLES = Path(__file__).parent.parent / "examples"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_exit_codes_are_pinned() -> None:
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0, "FINDINGS": 1, "USAGE": 2, "INPUT": 3, "NOTHING": 4, "MISSING_EXTRA": 5, "OUTPUT": 6, "INTERNAL": 70,
        "INTERRUPTED": 130, "BROKEN_PIPE": 141}


def test_the_readme_documents_every_exit_code() -> None:
    import re

    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Exit codes", 1)[1].split("\n\n")[1]
    assert [int(c) for c in re.findall(r"^\| (\d+) \|", table, re.M)] == [int(c) for c in ExitCode]


def test_a_closed_pipe_is_not_an_internal_error() -> None:
    # `lossdoctor diagnose ... | head -1`: the reader closes the pipe after one line, and
    # the report of every corpus run (> 64 KB, more than a pipe buffers) hits it.
    runs = " ".join(str(p) for p in sorted(CORPUS.iterdir()))
    cmd = (f"{sys.executable} -m lossdoctor diagnose {runs} --format plain --fail-on never"
           " | head -1; exit ${PIPESTATUS[0]}")
    run = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True)
    assert run.returncode == ExitCode.BROKEN_PIPE
    assert run.stderr == "" and run.stdout.startswith("── ")


def test_clean_run_exits_0_and_reports() -> None:
    code, out, err = invoke("diagnose", str(EXAMPLES / "healthy"), "--format", "plain")
    assert code == ExitCode.OK, err
    assert "verdict: healthy" in out and err == ""


def test_error_finding_exits_1() -> None:
    code, out, _ = invoke("diagnose", str(EXAMPLES / "diverged"), "--format", "plain")
    assert code == ExitCode.FINDINGS
    assert "ERROR   divergence" in out and "step 499" in out


def test_fail_on_threshold_and_rule_list() -> None:
    overfit = str(EXAMPLES / "overfitting")
    assert invoke("diagnose", overfit)[0] == ExitCode.OK               # a warning, default gate: error
    assert invoke("diagnose", overfit, "--fail-on", "warning")[0] == ExitCode.FINDINGS
    assert invoke("diagnose", overfit, "--fail-on", "overfitting")[0] == ExitCode.FINDINGS
    assert invoke("diagnose", overfit, "--fail-on", "nan_loss,divergence")[0] == ExitCode.OK
    assert invoke("diagnose", str(EXAMPLES / "diverged"), "--fail-on", "never")[0] == ExitCode.OK


def test_ignore_silences_a_rule() -> None:
    code, out, _ = invoke("diagnose", str(EXAMPLES / "diverged"), "--ignore", "divergence", "--format", "json")
    assert code == ExitCode.OK
    assert "divergence" not in {f["rule"] for f in json.loads(out)["runs"][0]["findings"]}


def test_usage_errors_exit_2_with_one_line() -> None:
    for args in (["--fail-on", "sometimes"], ["--ignore", "no_such_rule"], ["--metric", "val_loss"],
                 ["--metric", "speed=loss"]):
        code, out, err = invoke("diagnose", str(EXAMPLES / "healthy"), *args)
        assert code == ExitCode.USAGE, args
        assert out == "" and err.count("\n") == 1 and err.startswith("lossdoctor: error: ")


def test_unreadable_input_exits_3_naming_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "run.csv"
    empty.write_text("")
    code, out, err = invoke("diagnose", str(empty))
    assert code == ExitCode.INPUT
    assert out == "" and err == f"lossdoctor: error: {empty}: empty file\n"
    code, _, err = invoke("diagnose", str(tmp_path / "missing.csv"))
    assert code == ExitCode.INPUT and "missing.csv" in err and "Traceback" not in err


def test_no_loss_series_exits_4(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("epoch,accuracy\n0,0.5\n1,0.6\n2,0.7\n")
    code, _, err = invoke("diagnose", str(log))
    assert code == ExitCode.NOTHING and "no loss series" in err


def test_metric_override_names_the_series(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("epoch,objective,holdout\n" + "".join(f"{i},{2 / (i + 1)},{2.1 / (i + 1)}\n" for i in range(10)))
    assert invoke("diagnose", str(log))[0] == ExitCode.NOTHING
    code, out, _ = invoke("diagnose", str(log), "--metric", "train_loss=objective",
                          "--metric", "val_loss=holdout", "--format", "json")
    assert code == ExitCode.OK
    assert json.loads(out)["runs"][0]["metrics"] == {"train_loss": "objective", "val_loss": "holdout"}


def test_json_document_shape() -> None:
    code, out, err = invoke("diagnose", str(EXAMPLES / "overfitting"), str(EXAMPLES / "nan"), "--format", "json")
    assert code == ExitCode.FINDINGS and err == ""
    doc = json.loads(out)
    assert doc["version"] == 1 and len(doc["runs"]) == 2
    run = doc["runs"][0]
    assert set(run) >= {"path", "format", "metrics", "points", "findings", "error"}
    assert run["format"] == "hf_trainer_state" and run["error"] is None
    finding = run["findings"][0]
    assert set(finding) >= {"rule", "severity", "title", "message", "metric", "step", "end_step",
                            "evidence", "remedies"}
    assert finding["rule"] == "overfitting" and finding["step"] == 1000
    assert any("1,000" in r for r in finding["remedies"])
    nan_steps = {f["step"] for f in doc["runs"][1]["findings"] if f["rule"] == "nan_loss"}
    assert nan_steps == {218}


def test_batch_keeps_going_past_a_bad_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02binary")
    code, out, err = invoke("diagnose", str(bad), str(EXAMPLES / "healthy"), "--format", "json")
    assert code == ExitCode.INPUT
    runs = json.loads(out)["runs"]
    assert runs[0]["error"]["kind"] == "input" and runs[1]["error"] is None
    assert str(bad) in err


def test_internal_errors_are_one_line_without_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    import lossdoctor.api as api  # the command diagnoses through the Python API

    def boom(*_a, **_k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(api, "diagnose_ref", boom)
    code, _, err = invoke("diagnose", str(EXAMPLES / "healthy"))
    assert code == ExitCode.INTERNAL and "Traceback" not in err and "kaboom" in err
    code, _, err = invoke("diagnose", str(EXAMPLES / "healthy"), "--debug")
    assert code == ExitCode.INTERNAL and "Traceback" in err


def test_every_corpus_run_is_diagnosed_without_error() -> None:
    runs = sorted(p for p in CORPUS.iterdir() if p.is_dir())
    code, out, err = invoke("diagnose", *map(str, runs), "--format", "json", "--fail-on", "never")
    assert code == ExitCode.OK, err
    doc = json.loads(out)
    assert len(doc["runs"]) == 58 and all(r["error"] is None for r in doc["runs"])


def test_csv_diagnosis_does_not_import_tensorboard() -> None:
    code = ("import sys; from lossdoctor.cli import main\n"
            "try:\n    main(['diagnose', sys.argv[1], '--format', 'json'])\n"
            "except SystemExit: pass\n"
            "bad = [m for m in ('tensorboard', 'google.protobuf') if m in sys.modules]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code, str(EXAMPLES / "healthy")], check=True,
                   capture_output=True)
