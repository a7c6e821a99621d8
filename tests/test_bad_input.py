"""Malformed logs through the real CLI: each is diagnosed with a note, or is one error line.

The corpus is written by `tests/data/bad/make_bad.py` once per session. For every case
the table says what lossdoctor must do: ("diagnosed", exit code, text of the note that
says what was skipped — or None when nothing was), or ("error", 3, the problem named
after `lossdoctor: error: <path>: `). No output may ever hold a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lossdoctor.cli import main

sys.path.insert(0, str(Path(__file__).parent / "data" / "bad"))
from make_bad import make_all  # noqa: E402

DIAGNOSED, ERROR = "diagnosed", "error"

CASES: dict[str, tuple[str, int, str | None]] = {
    # TensorBoard
    "tb_truncated.tfevents.1.host": (DIAGNOSED, 0, "ignored a truncated last record at byte 2,920"),
    "tb_bad_length_crc.tfevents.1.host": (ERROR, 3, "corrupt record at byte 1,450 (length checksum mismatch)"),
    "tb_bad_data_crc.tfevents.1.host": (DIAGNOSED, 0, None),  # data checksums: only with verify
    "tb_zero_bytes.tfevents.1.host": (ERROR, 3, "empty file"),
    "tb_two_bytes.tfevents.1.host": (ERROR, 3, "not a text log (binary content)"),
    "tb_folder_with_empty": (DIAGNOSED, 0, "skipped events.out.tfevents.2.host: empty file"),
    # CSV
    "zero_bytes.csv": (ERROR, 3, "empty file"),
    "header_only.csv": (ERROR, 3, "header only, no data rows"),
    "one_row.csv": (DIAGNOSED, 0, None),
    "cut_last_row.csv": (DIAGNOSED, 0, None),
    "ragged.csv": (ERROR, 3, "malformed CSV: Expected 3 fields in line 11, saw 5"),
    "binary.csv": (ERROR, 3, "not a text log (binary content)"),
    "latin1.csv": (DIAGNOSED, 0, "not UTF-8 text at byte 0; read as Latin-1"),
    "text_loss.csv": (DIAGNOSED, 0, "loss: holds text, not numbers; column skipped"),
    "all_text.csv": (ERROR, 3, "no numeric columns"),
    "all_nan.csv": (DIAGNOSED, 1, None),  # nan_loss fires: exit 1 under --fail-on error
    "backwards_steps.csv": (DIAGNOSED, 0, "loss: the epoch went backwards 1 time "),
    # JSON
    "cut.json": (ERROR, 3, "invalid JSON at line 154 col 21 (file cut off?)"),
    "garbage_line.jsonl": (DIAGNOSED, 0, "skipped 2 lines holding no JSON object: line 18, 31"),
    "all_garbage.jsonl": (ERROR, 3, "not JSON lines: 21 of 21 lines are not JSON objects (first: line 1)"),
    "deep_list.json": (ERROR, 3, "JSON nested too deeply"),
    "deep_object.json": (ERROR, 3, "unrecognised log format"),
    "deep_line.jsonl": (DIAGNOSED, 0, "skipped 1 line holding no JSON object: line 61"),
    "no_log_history": (ERROR, 3, "trainer_state.json has no log_history"),
    "no_log_history_oneline": (ERROR, 3, "trainer_state.json has no log_history"),
    "log_history_not_list": (ERROR, 3, "trainer_state.json has no log_history"),
    # Folders and links
    "no_logs": (ERROR, 3, "no training log found"),
    "symlink_loop.csv": (ERROR, 3, "too many levels of symbolic links"),
    "folder_with_loop": (DIAGNOSED, 0, None),
}


@pytest.fixture(scope="session")
def bad_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated corpus of bad inputs."""
    return make_all(tmp_path_factory.mktemp("bad"))


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def error_path(bad_dir: Path, name: str) -> str:
    """The path an error names: the file inside a run folder when one was chosen."""
    path = bad_dir / name
    state = path / "trainer_state.json"
    return str(state if state.exists() else path)


def test_every_generated_case_has_an_expectation(bad_dir: Path) -> None:
    assert sorted(p.name for p in bad_dir.iterdir()) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_plain(bad_dir: Path, name: str) -> None:
    outcome, code, text = CASES[name]
    exit_code, out, err = run_cli("diagnose", "--format", "plain", str(bad_dir / name))
    assert "Traceback" not in out + err
    assert exit_code == code, err
    if outcome == ERROR:
        assert out == ""
        assert err.endswith("\n") and err.count("\n") == 1, err
        assert err.startswith(f"lossdoctor: error: {error_path(bad_dir, name)}: {text}")
    else:
        assert err == ""
        assert "verdict:" in out
        if text is not None:
            assert "notes:" in out and text in out


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_json(bad_dir: Path, name: str) -> None:
    outcome, code, text = CASES[name]
    exit_code, out, err = run_cli("diagnose", "--format", "json", str(bad_dir / name))
    assert "Traceback" not in out + err and exit_code == code
    (run,) = json.loads(out)["runs"]
    if outcome == ERROR:
        assert run["error"]["kind"] == "input" and f": {text}" in run["error"]["message"]
        assert run["findings"] == []
    else:
        assert run["error"] is None and run["points"] > 0
        notes = " | ".join(run["notes"])
        assert (text in notes) if text is not None else True


def refuse_open(monkeypatch: pytest.MonkeyPatch, refused) -> None:  # type: ignore[no-untyped-def]
    """Every reader opens a log with `text.open_regular`, that is `os.open`: refuse the paths
    `refused` accepts (chmod does not stop root, so the open itself is made to fail)."""
    import os

    real_open = os.open

    def refuse(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if refused(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(os, "open", refuse)


def test_permission_denied(bad_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod does not stop root, so the read itself is made to fail."""
    path = bad_dir / "one_row.csv"
    refuse_open(monkeypatch, lambda p: Path(p).name == path.name)  # rule files and config still open
    exit_code, out, err = run_cli("diagnose", str(path))
    assert (exit_code, out, err) == (3, "", f"lossdoctor: error: {path}: permission denied\n")


def test_permission_denied_on_an_event_file(bad_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TensorBoard reader opens files itself (with the same opener): an input error too."""
    refuse_open(monkeypatch, lambda p: "tfevents" in str(p))
    path = bad_dir / "tb_truncated.tfevents.1.host"
    exit_code, out, err = run_cli("diagnose", str(path))
    assert (exit_code, out, err) == (3, "", f"lossdoctor: error: {path}: permission denied\n")


def _long_line_log(path: Path, long_line_at: int | None) -> Path:
    lines = [json.dumps({"iteration": i, "total_loss": 2.0 / (i + 1)}) for i in range(40)]
    if long_line_at is not None:
        lines.insert(long_line_at, json.dumps({"iteration": 99, "blob": "x" * 5000}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_over_long_json_line_is_skipped_naming_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 200 MB line, scaled down: the limit is lowered instead of writing 200 MB."""
    import lossdoctor.sources.jsonl as jsonl

    monkeypatch.setattr(jsonl, "MAX_LINE_CHARS", 1000)
    path = _long_line_log(tmp_path / "metrics.jsonl", long_line_at=20)
    exit_code, out, err = run_cli("diagnose", "--format", "json", str(path))
    assert exit_code == 0 and err == ""
    (run,) = json.loads(out)["runs"]
    assert "skipped 1 line holding no JSON object: line 21; 1 longer than the 1,000-character line limit" \
        in run["notes"]
    assert run["points"] == 40


def test_a_log_that_is_one_over_long_line_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lossdoctor.sources.jsonl as jsonl

    monkeypatch.setattr(jsonl, "MAX_LINE_CHARS", 1000)
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"iteration": 1, "loss": 1.0, "blob": "x" * 5000}) + "\n")
    exit_code, out, err = run_cli("diagnose", str(path))
    assert (exit_code, out) == (3, "")
    assert err == (f"lossdoctor: error: {path}: not JSON lines: 1 of 1 lines are not JSON objects "
                   "(first: line 1); 1 longer than the 1,000-character line limit\n")


def test_the_default_line_limit_keeps_ordinary_lines(tmp_path: Path) -> None:
    path = _long_line_log(tmp_path / "metrics.jsonl", long_line_at=20)
    exit_code, out, _ = run_cli("diagnose", "--format", "json", str(path))
    (run,) = json.loads(out)["runs"]
    assert exit_code == 0 and not any("line limit" in n for n in run["notes"])


def test_debug_shows_the_traceback_only_when_asked(bad_dir: Path) -> None:
    """--debug changes nothing for an input error: it is expected, not a bug."""
    exit_code, _, err = run_cli("diagnose", "--debug", str(bad_dir / "zero_bytes.csv"))
    assert exit_code == 3 and err.startswith("lossdoctor: error: ")


def test_audit_gives_each_bad_run_one_error_row(tmp_path: Path) -> None:
    """Event files get a folder each: loose in the root they would make it one TensorBoard run."""
    root = make_all(tmp_path / "bad")
    for event_file in root.glob("tb_*.host"):
        (root / f"{event_file.name.split('.')[0]}_run").mkdir()
        event_file.rename(root / f"{event_file.name.split('.')[0]}_run" / event_file.name)
    exit_code, out, err = run_cli("audit", "--format", "json", "-j", "1", "--fail-on", "never", str(root))
    assert exit_code == 0 and "Traceback" not in out + err
    doc = json.loads(out)
    case = {r["path"]: Path(r["path"]).relative_to(root).parts[0].removesuffix("_run") for r in doc["runs"]}
    outcome = {name.split(".")[0] if name.startswith("tb_") else name: kind for name, (kind, _, _) in CASES.items()}
    errors = [r for r in doc["runs"] if r["error"]]
    assert all(outcome[case[r["path"]]] == ERROR for r in errors)
    assert all(outcome[case[r["path"]]] == DIAGNOSED for r in doc["runs"] if not r["error"])
    # Not runs at all: a folder without logs, a symlink to itself, JSON files that are no log by
    # content (no metric among their keys; they are listed as skipped, with the reason).
    not_runs = {"no_logs", "symlink_loop.csv", "deep_object.json", "deep_list.json"}
    assert len(errors) == sum(kind == ERROR for name, kind in outcome.items() if name not in not_runs) == 13
    summary = doc["summary"]
    assert summary["found"] == summary["diagnosed"] + summary["errors"] == len(doc["runs"]) == len(CASES) - 4
