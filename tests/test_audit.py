"""`lossdoctor audit` end to end on the discovery tree: rows, counts, order, gate, formats."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from lossdoctor.cli import main
from lossdoctor.exitcodes import ExitCode
from test_discover import CORPUS, EXPECTED_RUNS, KERAS, build_tree, tree  # noqa: F401 - fixture

VERDICT_ORDER = ["unreadable", "no-loss", "error", "warning", "info", "ok"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["audit", *args])
    return result.exit_code, result.stdout, result.stderr


def audit_json(root: Path, *args: str) -> tuple[int, dict]:
    code, out, _ = invoke(str(root), "--format", "json", *args)
    return code, json.loads(out)


def test_every_run_is_a_row_and_found_is_diagnosed_plus_errors(tree: Path) -> None:
    code, doc = audit_json(tree, "--jobs", "1", "--fail-on", "never")
    assert code == ExitCode.OK
    runs = {os.path.relpath(r["run"], tree): r for r in doc["runs"]}
    assert set(runs) == {path for path, _ in EXPECTED_RUNS}
    summary = doc["summary"]
    assert summary["found"] == len(EXPECTED_RUNS) == summary["diagnosed"] + summary["errors"]
    broken = runs["broken/training_log.csv"]
    assert broken["error"]["kind"] == "input" and broken["verdict"] == "unreadable"
    assert summary["errors"] == sum(1 for r in doc["runs"] if r["error"]) >= 1
    assert summary["skipped"]["symlink loop"] == 1 and summary["skipped"]["unreadable folder"] == 1
    assert "nan_loss" in {f["rule"] for f in runs["mlflow.db#run_a"]["findings"]}
    assert runs["hf_out"]["points"] == 425  # the newest checkpoint's full history
    for row in doc["runs"]:
        assert {"verdict", "best_val_step", "best_val_loss", "final_val_loss"} <= set(row)


def test_best_val_step_is_where_overfitting_says_to_stop(tree: Path) -> None:
    _, doc = audit_json(tree, "--jobs", "1", "--only", "overfitting")
    assert doc["runs"], "the HF output dir (Whisper fine-tune) overfits"
    for row in doc["runs"]:
        over = next(f for f in row["findings"] if f["rule"] == "overfitting")
        assert row["best_val_step"] == over["evidence"]["best_step"]
        assert row["best_val_loss"] <= row["final_val_loss"]


def test_jobs_do_not_change_the_result(tree: Path) -> None:
    one = invoke(str(tree), "--format", "json", "--jobs", "1")
    two = invoke(str(tree), "--format", "json", "--jobs", "2")
    assert one[0] == two[0] and one[1] == two[1]


def test_sort_and_filters(tree: Path) -> None:
    _, doc = audit_json(tree, "--sort", "verdict", "--jobs", "1")
    ranks = [VERDICT_ORDER.index(r["verdict"]) for r in doc["runs"]]
    assert ranks == sorted(ranks) and len(set(ranks)) > 2
    _, doc = audit_json(tree, "--sort", "points", "--jobs", "1")
    points = [r["points"] for r in doc["runs"]]
    assert points == sorted(points, reverse=True)
    _, doc = audit_json(tree, "--min-severity", "warning", "--jobs", "1")
    assert doc["runs"] and all(r["verdict"] in ("error", "warning") for r in doc["runs"])
    assert doc["summary"]["found"] == len(EXPECTED_RUNS)  # filters hide rows, never counts
    _, doc = audit_json(tree, "--only", "nan_loss", "--jobs", "1")
    assert [os.path.relpath(r["run"], tree) for r in doc["runs"]] == ["mlflow.db#run_a"]
    assert invoke(str(tree), "--only", "no_such_rule")[0] == ExitCode.USAGE


def test_fail_on_gate_same_as_diagnose(tree: Path) -> None:
    assert invoke(str(tree), "--format", "csv", "--fail-on", "never", "--jobs", "1")[0] == ExitCode.OK
    assert invoke(str(tree), "--format", "csv", "--fail-on", "error", "--jobs", "1")[0] == ExitCode.FINDINGS
    assert invoke(str(tree), "--format", "csv", "--fail-on", "oscillation", "--jobs", "1")[0] in (0, 1)
    assert invoke(str(tree), "--fail-on", "bogus")[0] == ExitCode.USAGE


def test_csv_and_markdown_parse(tree: Path) -> None:
    _, out, err = invoke(str(tree), "--format", "csv", "--jobs", "1")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(EXPECTED_RUNS) and "runs found" in err and "runs found" not in out
    assert {r["verdict"] for r in rows} >= {"unreadable", "error"}
    _, out, _ = invoke(str(tree), "--format", "markdown", "--jobs", "1")
    lines = out.strip().splitlines()
    assert len(lines) == len(EXPECTED_RUNS) + 2 and set(lines[1]) <= set("|-:")
    assert len({line.replace("\\|", "").count("|") for line in lines}) == 1


def test_plain_table_and_summary_line(tree: Path) -> None:
    code, out, _ = invoke(str(tree), "--jobs", "1", "--fail-on", "never")
    assert code == ExitCode.OK and out.splitlines()[0].split()[:4] == ["run", "format", "points", "verdict"]
    assert f"{len(EXPECTED_RUNS)} runs found" in out and "not a text log" in out


def test_nothing_found_and_every_run_failed_exit_4(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("hello")
    code, _, err = invoke(str(tmp_path))
    assert code == ExitCode.NOTHING and "no runs found under" in err
    (tmp_path / "bad.csv").write_bytes(bytes(range(256)))
    code, out, err = invoke(str(tmp_path), "--format", "json")
    assert code == ExitCode.NOTHING and json.loads(out)["summary"]["errors"] == 1
    (tmp_path / "good.csv").write_bytes(KERAS.read_bytes())
    assert invoke(str(tmp_path), "--fail-on", "never")[0] == ExitCode.OK


def test_interrupt_keeps_finished_rows(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lossdoctor.audit as audit_module

    real = audit_module.audit_row
    calls = []

    def flaky(ref, settings):
        calls.append(ref)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(ref, settings)

    monkeypatch.setattr(audit_module, "audit_row", flaky)
    code, out, err = invoke(str(tree), "--format", "json", "--jobs", "1")
    doc = json.loads(out)
    assert code == ExitCode.INTERRUPTED and len(doc["runs"]) == 3
    assert doc["summary"]["not_run"] == len(EXPECTED_RUNS) - 3 and "interrupted" in err


def test_config_file_sets_the_gate_as_for_diagnose(tree: Path, tmp_path: Path) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text("fail-on: never\nignore: [nan_loss]\n")
    assert invoke(str(tree), "--format", "csv", "--jobs", "1")[0] == ExitCode.FINDINGS
    code, doc = audit_json(tree, "--config", str(config), "--jobs", "1")
    assert code == ExitCode.OK
    assert all(f["rule"] != "nan_loss" for r in doc["runs"] for f in r["findings"])
