"""The folders real loggers write, pointed at as a user would: every run found, none merged.

The trees under tests/data/layouts were written by the real writers (Lightning, torch's
SummaryWriter, Keras, HF Trainer, Ultralytics, MLflow file store and sqlite, W&B, MMEngine;
`benchmarks/real_writers.py`, provenance in PROVENANCE.md). Each `<case>.yaml` lists the
runs a user would say the tree holds, the paths a user would point at, and the findings a
broken run must get. `diagnose` and `audit` must agree on the runs of every tree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from lossdoctor.cli import main
from lossdoctor.sources import discover

LAYOUTS = Path(__file__).parent / "data" / "layouts"
CASES = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(LAYOUTS.glob("*.yaml"))}
POINTS = [(case, point) for case, spec in CASES.items() for point in spec["point_at"]]


def expected_runs(spec: dict, point: str) -> dict[str, dict]:
    """The runs under `point` that this version reads (W&B has no reader yet), by root."""
    inside = lambda root: root == point or root.startswith(point.rstrip("/") + "/") \
        or root.startswith(point + "#")  # noqa: E731
    return {r["root"]: r for r in spec["runs"] if inside(r["root"]) and r.get("supported", True)}


def relative(path: str) -> str:
    db, sep, run = path.partition("#")
    return os.path.relpath(db, LAYOUTS).replace(os.sep, "/") + sep + run


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout


@pytest.mark.parametrize("case,point", POINTS)
def test_every_run_found_and_nothing_else(case: str, point: str) -> None:
    found = discover([LAYOUTS / point])
    assert {relative(r.path) for r in found.runs} == set(expected_runs(CASES[case], point))
    assert not [r for r in found.runs if r.error]


@pytest.mark.parametrize("case", sorted(CASES))
def test_files_that_are_not_logs_are_not_runs(case: str) -> None:
    found = discover([LAYOUTS / case])
    runs = {relative(r.path) for r in found.runs}
    for path in CASES[case].get("not_runs", []):
        assert f"{case}/{path}" not in runs


@pytest.mark.parametrize("case,point", POINTS)
def test_diagnose_reports_each_run_apart_and_agrees_with_audit(case: str, point: str) -> None:
    want = expected_runs(CASES[case], point)
    _, out = cli("diagnose", str(LAYOUTS / point), "--format", "json", "--fail-on", "never")
    runs = json.loads(out)["runs"]
    if not want:  # a tree of a format this version does not read: said, not a silent pass
        assert len(runs) == 1 and "no training log found" in runs[0]["error"]["message"]
        return
    assert len(runs) == len(want)
    _, audited = cli("audit", str(LAYOUTS / point), "--format", "json", "--fail-on", "never", "-j", "1")
    assert sorted(r["run"] for r in json.loads(audited)["runs"]) == sorted(r["run"] for r in runs)
    by_name = {r["name"]: r for r in runs}
    for spec in want.values():
        diag = next(r for r in runs if _root_of(r) == spec["root"])
        fired = {f["rule"] for f in diag["findings"]}
        assert diag["error"] is None, diag["error"]
        assert set(spec["must_report"]) - {"hidden_nan"} <= fired, (spec["root"], fired)
    assert len(by_name) == len(runs)  # every run has a name of its own


def _root_of(diag: dict) -> str:
    return relative(diag["run"])


def test_names_are_the_ones_users_know() -> None:
    names = lambda point: {r.name for r in discover([LAYOUTS / point]).runs}  # noqa: E731
    assert names("lightning_two_loggers") == {"lightning_logs/version_0", "lightning_logs/version_1"}
    assert names("lightning_named/logs/tiny_regressor") == {"tiny_regressor/version_0", "tiny_regressor/version_1"}
    mlflow = {r["name"] for r in CASES["mlflow_file_store"]["runs"]}
    assert names("mlflow_file_store") == mlflow
    sqlite = {r["name"] for r in CASES["mlflow_sqlite"]["runs"]}
    assert names("mlflow_sqlite") == sqlite


def test_a_broken_run_beside_healthy_ones_fails_the_gate() -> None:
    """Merged into one run, the NaN run of version_1 could come out healthy."""
    code, out = cli("diagnose", str(LAYOUTS / "lightning_two_loggers"), "--format", "plain")
    assert code == 1
    assert "2 runs:" in out and "lightning_logs/version_1 (nan_loss" in out


def test_ultralytics_and_its_mlflow_copy_are_one_run() -> None:
    found = discover([LAYOUTS / "ultralytics_project"])
    assert [r.name for r in found.runs] == ["runs/detect/train", "runs/detect/train-2"]
    twins = [s for s in found.skipped_paths if s.reason.startswith("the same training")]
    assert len(twins) == 2 and all(s.detail.endswith(("train", "train-2")) for s in twins)


def test_stdin_and_urls() -> None:
    csv = (LAYOUTS / "keras_csvlogger_nested" / "logs" / "training_log.csv").read_text()
    result = CliRunner().invoke(main, ["diagnose", "-", "--format", "json", "--fail-on", "never"], input=csv)
    (run,) = json.loads(result.stdout)["runs"]
    assert result.exit_code == 0 and run["name"] == "<stdin>" and run["format"] == "keras_csv"
    result = CliRunner().invoke(main, ["diagnose", "nosuchstore://bucket/runs/exp1"])  # tests/test_store.py: s3://
    assert result.exit_code == 3 and "nosuchstore:// is not a kind of storage fsspec knows" in result.stderr
    assert "nosuchstore:/bucket" not in result.stderr


def test_json_names_every_series_judged_including_derived_sums(tmp_path: Path) -> None:
    header = "epoch,train/box_loss,train/cls_loss,train/dfl_loss,val/box_loss,val/cls_loss,val/dfl_loss\n"
    rows = "".join(f"{e},{2 - e / 20},{1.5 - e / 30},{1.2 - e / 40},{2.1 - e / 20},{1.6 - e / 30},{1.3 - e / 40}\n"
                   for e in range(1, 21))
    (tmp_path / "results.csv").write_text(header + rows)
    _, out = cli("diagnose", str(tmp_path), "--format", "json", "--fail-on", "never")
    (run,) = json.loads(out)["runs"]
    assert run["metrics"]["train_loss"].startswith("train total (train/box_loss + ")
    assert {p["label"] for p in run["pairs"]} >= {"total", "box_loss", "cls_loss", "dfl_loss"}
