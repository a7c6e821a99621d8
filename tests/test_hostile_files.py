"""Hostile files (issue 14): odd file kinds, hostile config and rule files, output that
cannot be written, folders that cannot be listed, files that cannot be read.

Every case goes through the real CLI: one line on stderr naming the file and the
problem, its own exit code, never a traceback, never a hang.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lossdoctor.cli import main
from lossdoctor.exitcodes import ExitCode

EXAMPLES = Path(__file__).parent.parent / "examples"
RULES = Path(__file__).parent.parent / "rules"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_error(err: str) -> str:
    """The one error line (and nothing else) on stderr."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lossdoctor: error: "), err
    return lines[0].removeprefix("lossdoctor: error: ")


@pytest.fixture
def run(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES / "healthy", tmp_path / "run")
    return tmp_path / "run"


# -- 2. config and rule files --------------------------------------------------------------

_BOMB = "x:\n  a: &a [1, 2]\n" + "".join(
    f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
_RULE = "id: my_rule\ntitle: t\nseverity: warning\nmessage: m\nremedies: [r]\n"

CONFIGS: dict[str, tuple[bytes, str]] = {
    "utf16.yaml": ("fail-on: info\n".encode("utf-16"), "UTF-16 text; save it as UTF-8"),
    "latin1.yaml": (b"fail-on: caf\xe9\n", "not UTF-8 text (byte 12); save it as UTF-8"),
    "deep_flow.yaml": (b"[" * 100_000 + b"]" * 100_000, "not valid YAML: exceeded maximum nesting depth"),
    "deep_block.yaml": ("".join(" " * i + "a:\n" for i in range(3000)).encode(),
                        "not valid YAML: exceeded maximum nesting depth"),
    "deep.toml": (b"[tool.lossdoctor]\nx = " + b"[" * 3000 + b"]" * 3000 + b"\n",
                  "not valid TOML: nested too deeply"),
    "latin1.toml": (b"[tool.lossdoctor]\nfail-on = 'caf\xe9'\n", "not UTF-8 text (byte 32); save it as UTF-8"),
    "dup.yaml": (b"fail-on: never\nfail-on: info\n", "line 2: duplicate key 'fail-on'"),
    "dup_nested.yaml": (b"rules:\n  overfitting: {severity: info, severity: error}\n",
                        "line 2: duplicate key 'severity'"),
    "self_alias.yaml": (b"rules: &r {overfitting: *r}\n", "line 1: aliases (*name) are not allowed"),
    "bomb.yaml": ((_BOMB + "rules: *i\n").encode(), "aliases (*name) are not allowed"),
    "merge.yaml": (b"base: &b {severity: info}\nrules: {overfitting: {<<: *b}}\n",
                   "aliases (*name) are not allowed"),
    "bigint.yaml": (b"rules:\n  overfitting: {min_rise: " + b"9" * 5000 + b"}\n",
                    "not valid YAML: an integer of more than 4,300 digits"),
    "bigint.toml": (b"[tool.lossdoctor]\nx = " + b"9" * 5000 + b"\n",
                    "not valid TOML: an integer of more than 4,300 digits"),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_a_hostile_config_file_is_refused_with_exit_2(run: Path, name: str) -> None:
    data, problem = CONFIGS[name]
    config = run.parent / name
    config.write_bytes(data)
    code, _, err = invoke("diagnose", str(run), "--config", str(config))
    assert code == ExitCode.USAGE
    message = one_error(err)
    assert message.startswith(f"{config}: ") and problem in message


RULE_FILES: dict[str, tuple[str, str]] = {
    "self_alias.yaml": (_RULE + "when: &w\n  all: [*w]\n", "line 6: aliases (*name) are not allowed"),
    "bomb.yaml": (_RULE + "params:\n" + _BOMB.removeprefix("x:\n") + "when: {all: *i}\n",
                  "aliases (*name) are not allowed"),
    "dup.yaml": ((RULES / "divergence.yaml").read_text(encoding="utf-8") + "\nseverity: info\n",
                 "duplicate key 'severity'"),
    "utf16.yaml": ("\ufeff" + _RULE, "UTF-16 text; save it as UTF-8"),  # written as UTF-16 below
    "deep.yaml": (_RULE + "when: " + "{all: [" * 5000 + "]}" * 5000 + "\n",
                  "not valid YAML: exceeded maximum nesting depth"),
    "bigint.yaml": (_RULE + "params: {x: " + "9" * 5000 + "}\n",
                    "not valid YAML: an integer of more than 4,300 digits"),
}


@pytest.mark.parametrize("name", RULE_FILES)
def test_a_hostile_rule_file_is_refused_with_exit_2(run: Path, name: str) -> None:
    text, problem = RULE_FILES[name]
    rule = run.parent / name
    rule.write_bytes(text.encode("utf-16" if name.startswith("utf16") else "utf-8"))
    for args in (("diagnose", str(run), "--rules", str(rule)), ("rules", "check", str(rule))):
        code, out, err = invoke(*args)
        assert code == ExitCode.USAGE, (args, out, err)
        message = one_error(err)
        assert message.startswith(f"{rule}: ") and problem in message, message


def test_hparams_yaml_goes_through_the_same_loader(run: Path) -> None:
    """A hostile hyper-parameter file beside the log costs the quoted rate, never the run."""
    from lossdoctor.sources.hparams import hparams_beside

    (run / "hparams.yaml").write_text(_BOMB + "lr: 0.1\n", encoding="utf-8")
    assert hparams_beside(run) == {}
    (run / "hparams.yaml").write_text("lr: 0.1\nlr: 0.2\n", encoding="utf-8")
    assert hparams_beside(run) == {}
    (run / "hparams.yaml").write_text("lr: 0.1\n", encoding="utf-8")
    assert hparams_beside(run) == {"lr": 0.1}
    assert invoke("diagnose", str(run), "--format", "plain")[0] == ExitCode.OK


def test_plain_config_still_loads(run: Path) -> None:
    config = run.parent / "ok.yaml"
    config.write_text("\ufefffail-on: never\nrules:\n  overfitting: {severity: info}\n", encoding="utf-8")
    assert invoke("diagnose", str(run), "--config", str(config))[0] == ExitCode.OK


# -- 1. non-regular files --------------------------------------------------------------------

def cli(*args: str, timeout: float = 120) -> tuple[int, str, str]:
    """The CLI in a child process: a case that would hang fails by the timeout, not forever."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run([sys.executable, "-m", "lossdoctor", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
    return done.returncode, done.stdout, done.stderr


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")


@needs_fifo
@pytest.mark.parametrize("name", ["metrics.csv", "events.out.tfevents.1.host", "trainer_state.json"])
def test_diagnose_refuses_a_fifo_named_like_a_log(tmp_path: Path, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    code, _, err = cli("diagnose", str(fifo))
    assert code == ExitCode.INPUT
    assert one_error(err) == f"{fifo}: not a regular file (named pipe)"


@needs_fifo
def test_only_regular_files_are_opened(tmp_path: Path) -> None:
    """The one opener every reader uses: a FIFO, a socket, a device, a folder are refused
    without blocking; a regular file opens."""
    import socket

    from lossdoctor.sources.text import NotRegularFile, open_regular

    os.mkfifo(tmp_path / "fifo.csv")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock.csv"))
        for path, kind in ((tmp_path / "fifo.csv", "named pipe"), (tmp_path / "sock.csv", "socket"),
                           (Path(os.devnull), "character device")):
            with pytest.raises(NotRegularFile, match=rf"not a regular file \({kind}\)"):
                open_regular(path)
        code, _, err = cli("diagnose", str(tmp_path / "sock.csv"))
        assert code == ExitCode.INPUT and "not a regular file (socket)" in one_error(err)
    with pytest.raises(IsADirectoryError):
        open_regular(tmp_path)
    (tmp_path / "ok.csv").write_text("x\n")
    with open_regular(tmp_path / "ok.csv") as f:
        assert f.read() == b"x\n"


@needs_fifo
def test_an_audit_skips_fifos_and_counts_them(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "healthy", tmp_path / "good")
    (tmp_path / "fifo_run").mkdir()
    os.mkfifo(tmp_path / "fifo_run" / "trainer_state.json")
    os.mkfifo(tmp_path / "metrics.csv")
    os.mkfifo(tmp_path / "events.out.tfevents.1.host")
    code, out, err = cli("audit", str(tmp_path), "-j", "1", "--format", "json")
    assert code == ExitCode.OK, err
    doc = json.loads(out)
    assert [r["name"] for r in doc["runs"]] == ["good"]
    skipped = {Path(s["path"]).name: s["reason"] for s in doc["skipped"]}
    assert {k: v for k, v in skipped.items() if "regular" in v} == dict.fromkeys(
        ["trainer_state.json", "metrics.csv", "events.out.tfevents.1.host"],
        "not a regular file (FIFO, socket, device or broken entry)")


@needs_fifo
def test_a_run_folder_whose_log_is_a_fifo_is_no_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "metrics.csv")
    code, _, err = cli("diagnose", str(tmp_path))
    assert code == ExitCode.INPUT and "no training log found" in one_error(err)
    assert "skipped 1 not a regular file" in err


@needs_fifo
def test_watch_and_resume_refuse_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "metrics.csv")
    code, _, err = cli("watch", str(tmp_path / "metrics.csv"), "--idle-timeout", "30")
    assert code == ExitCode.INPUT and one_error(err).endswith("metrics.csv: not a regular file (named pipe)")
    shutil.copytree(EXAMPLES / "healthy", tmp_path / "runs" / "good")
    os.mkfifo(tmp_path / "done.jsonl")
    code, _, err = cli("audit", str(tmp_path / "runs"), "-j", "1", "--format", "jsonl",
                       "--resume", str(tmp_path / "done.jsonl"), "-o", str(tmp_path / "out.jsonl"))
    assert code == ExitCode.INPUT and one_error(err).endswith("done.jsonl: not a regular file (named pipe)")


# -- 3. output that cannot be written --------------------------------------------------------

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full (Linux only)")

WRITERS = {  # every command that writes a report, on a run that has something to say
    "diagnose": ("diagnose", str(EXAMPLES / "diverged"), "--format", "plain"),
    "diagnose-json": ("diagnose", str(EXAMPLES / "diverged"), "--format", "json"),
    "audit": ("audit", str(EXAMPLES), "-j", "1"),
    "audit-json": ("audit", str(EXAMPLES), "-j", "1", "--format", "json"),
    "audit-jsonl": ("audit", str(EXAMPLES), "-j", "1", "--format", "jsonl"),
    "watch": ("watch", str(EXAMPLES / "healthy"), "--interval", "0.1", "--idle-timeout", "0.2"),
    "rules": ("rules",),
    "rules-show": ("rules", "show", "divergence"),
    "explain": ("explain",),
}
WITH_OUTPUT = ("diagnose", "diagnose-json", "audit", "audit-json", "audit-jsonl", "watch")


def _stdout_error(code: int, err: str) -> None:
    assert code == ExitCode.OUTPUT, err
    assert one_error(err).startswith("standard output: cannot write the report: ")


@needs_dev_full
@pytest.mark.parametrize("name", WRITERS)
def test_a_full_disk_on_stdout_is_one_line_exit_6(name: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "lossdoctor", *WRITERS[name]], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120, env=env)
    _stdout_error(done.returncode, done.stderr)
    assert one_error(done.stderr).endswith("no space left on device")


@pytest.mark.parametrize("name", WRITERS)
def test_a_closed_stdout_is_one_line_exit_6(name: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    done = subprocess.run(["bash", "-c", 'exec "$@" >&-', "-", sys.executable, "-m", "lossdoctor", *WRITERS[name]],
                          stderr=subprocess.PIPE, text=True, timeout=120, env=env)
    _stdout_error(done.returncode, done.stderr)
    assert one_error(done.stderr).endswith("it is closed")


@needs_dev_full
@pytest.mark.parametrize("name", WITH_OUTPUT)
def test_output_to_a_full_disk_is_one_line_exit_6(name: str) -> None:
    code, out, err = invoke(*WRITERS[name], "--output", "/dev/full")
    assert code == ExitCode.OUTPUT, err
    assert one_error(err) == "--output /dev/full: cannot write the report: no space left on device"


@pytest.mark.parametrize("name", WITH_OUTPUT)
def test_output_into_a_missing_folder_is_one_line_exit_6(tmp_path: Path, name: str) -> None:
    target = tmp_path / "missing" / "dir" / "x"
    code, out, err = invoke(*WRITERS[name], "--output", str(target))
    assert code == ExitCode.OUTPUT, err
    assert one_error(err) == f"--output {target}: cannot write the report: no such file or directory"
    assert not target.parent.exists()


def test_output_is_still_written_with_stdout_closed(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    target = tmp_path / "report.txt"
    done = subprocess.run(["bash", "-c", 'exec "$@" >&-', "-", sys.executable, "-m", "lossdoctor", "diagnose",
                           str(EXAMPLES / "healthy"), "--output", str(target)],
                          stderr=subprocess.PIPE, text=True, timeout=120, env=env)
    assert (done.returncode, done.stderr) == (ExitCode.OK, "")
    assert "verdict: healthy" in target.read_text(encoding="utf-8")


@needs_dev_full
def test_plot_and_rewind_plan_write_errors_are_exit_6(tmp_path: Path) -> None:
    code, _, err = invoke("diagnose", str(EXAMPLES / "diverged"), "--rewind-plan", "/dev/full/plans")
    assert code == ExitCode.OUTPUT and one_error(err).startswith("--rewind-plan /dev/full/plans: cannot write ")


# -- 4. folders that cannot be listed or resolved ----------------------------------------------

def test_an_unlistable_folder_is_a_skip_and_the_audit_goes_on(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod 000 does not stop root: the listing itself is refused, as /proc/<pid>/fd would be."""
    shutil.copytree(EXAMPLES / "healthy", tmp_path / "root" / "good")
    shutil.copytree(EXAMPLES / "healthy", tmp_path / "elsewhere" / "locked" / "run")
    (tmp_path / "root" / "link").symlink_to(tmp_path / "elsewhere")
    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        if os.path.basename(os.fspath(path)) == "locked":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)
    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = invoke("audit", str(tmp_path / "root"), "--follow-symlinks", "-j", "1", "--format", "json")
    assert code == ExitCode.OK, err
    doc = json.loads(out)
    assert [r["name"] for r in doc["runs"]] == ["good"]
    assert {"path": str(tmp_path / "root" / "link" / "locked"), "reason": "unreadable folder",
            "detail": "permission denied"} in doc["skipped"]


def test_a_symlink_that_cannot_be_resolved_is_a_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--follow-symlinks` through /proc: resolving /proc/1/cwd raises PermissionError."""
    import os.path

    shutil.copytree(EXAMPLES / "healthy", tmp_path / "good")
    (tmp_path / "cwd").symlink_to(tmp_path / "good")
    real = os.path.realpath

    def realpath(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.fspath(path).endswith("cwd"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path, *args, **kwargs)
    monkeypatch.setattr(os.path, "realpath", realpath)
    code, out, err = invoke("audit", str(tmp_path), "--follow-symlinks", "-j", "1", "--format", "json")
    assert code == ExitCode.OK, err
    doc = json.loads(out)
    assert [r["name"] for r in doc["runs"]] == ["good"]
    assert {"path": str(tmp_path / "cwd"), "reason": "unreadable folder", "detail": "permission denied"} \
        in doc["skipped"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc")
def test_follow_symlinks_into_proc_finishes(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "healthy", tmp_path / "good")
    (tmp_path / "self").symlink_to("/proc/self/fdinfo")
    code, out, err = cli("audit", str(tmp_path), "--follow-symlinks", "-j", "1")
    assert code == ExitCode.OK and "Traceback" not in err


# -- 6. every skipped path listed; a garbage file named as a log is a run --------------------

def test_the_audit_lists_every_skipped_path(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "healthy", tmp_path / "good")
    (tmp_path / "notes.md").write_text("# runs\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "data.csv").write_text("x,y\n1,2\n3,4\n")
    code, out, err = invoke("audit", str(tmp_path), "-j", "1", "--format", "json")
    assert code == ExitCode.OK, err
    doc = json.loads(out)
    listed = {(Path(s["path"]).name, s["reason"]) for s in doc["skipped"]}
    assert listed == {("notes.md", "not a log (file name)"), (".hidden", "hidden file or folder"),
                      ("data.csv", "not a log (content)")}
    assert sum(doc["summary"]["skipped"].values()) == len(doc["skipped"])
    # jsonl: a line per skipped path after the runs; --resume reads past them and writes them once
    jsonl = tmp_path.parent / f"{tmp_path.name}.jsonl"
    for _ in range(2):
        code, _, err = invoke("audit", str(tmp_path), "-j", "1", "--format", "jsonl", "--resume", str(jsonl))
        assert code == ExitCode.OK, err
        records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
        assert [r["name"] for r in records if "run" in r] == ["good"]
        assert sorted(Path(r["skipped"]["path"]).name for r in records if "skipped" in r) == \
            [".hidden", "data.csv", "notes.md"]
    # the table: --show-skipped lists them below it
    code, out, _ = invoke("audit", str(tmp_path), "-j", "1", "--show-skipped")
    assert "skipped (3):" in out and f"{tmp_path / 'notes.md'}: not a log (file name)" in out
    assert "skipped (3):" not in invoke("audit", str(tmp_path), "-j", "1")[1]


GARBAGE_LOGS = ["training.log", "train.log", "training.txt", "training.json", "training_log.csv", "metrics.csv",
                "trainer_state.json", "events.out.tfevents.1.host", "results.csv", "history.csv"]


@pytest.mark.parametrize("name", GARBAGE_LOGS)
def test_a_garbage_file_named_as_a_log_is_an_unreadable_run(tmp_path: Path, name: str) -> None:
    shutil.copytree(EXAMPLES / "healthy", tmp_path / "good")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / name).write_bytes(bytes(range(256)) * 8)
    code, out, err = invoke("audit", str(tmp_path), "-j", "1", "--format", "json")
    assert code == ExitCode.OK, err
    doc = json.loads(out)
    broken = [r for r in doc["runs"] if r["name"] != "good"]
    assert len(broken) == 1 and broken[0]["verdict"] == "unreadable"
    assert broken[0]["error"]["message"].startswith(str(tmp_path / "broken" / name) + ": ")
    assert not [s for s in doc["skipped"] if "broken" in s["path"]]


# -- 5. files that cannot be read ----------------------------------------------------------------

TB_EVENTS = next((Path(__file__).parent / "data" / "corpus" / "runs").glob("tensorboard-*/*tfevents*"))


def refuse_reads(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """chmod 000 does not stop root (tests may run as root): every reader opens with
    `os.open` (text.open_regular), so refusing it there is what an unreadable file does."""
    real_open = os.open

    def refuse(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if any(n in os.path.basename(os.fspath(path)) for n in names):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(os, "open", refuse)


def test_an_unreadable_event_file_is_named_in_the_fallback_note(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(TB_EVENTS, tmp_path / "events.out.tfevents.1.host")
    (tmp_path / "wandb-summary.json").write_text('{"loss": 0.5, "_step": 10}')
    refuse_reads(monkeypatch, "tfevents")
    code, out, err = invoke("diagnose", str(tmp_path), "--format", "json")
    assert code == ExitCode.OK, err
    (run,) = json.loads(out)["runs"]
    assert run["format"] == "wandb_summary"
    assert run["notes"][0] == ("could not read events.out.tfevents.1.host (permission denied); "
                               "read wandb-summary.json instead")


def test_an_unreadable_trainer_state_falls_back_with_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(TB_EVENTS, tmp_path / "events.out.tfevents.1.host")
    (tmp_path / "trainer_state.json").write_text('{"log_history": [{"step": 1, "loss": 1.0}]}')
    refuse_reads(monkeypatch, "trainer_state.json")
    code, out, err = invoke("diagnose", str(tmp_path), "--format", "json")
    assert code == ExitCode.OK, err
    (run,) = json.loads(out)["runs"]
    assert run["format"] == "tensorboard"
    assert run["notes"][0] == "could not read trainer_state.json (permission denied); read the folder's own files instead"


def test_when_every_event_file_is_unreadable_the_error_says_permission_denied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("events.out.tfevents.1.a", "events.out.tfevents.2.b"):
        shutil.copy(TB_EVENTS, tmp_path / name)
    refuse_reads(monkeypatch, "tfevents")
    code, _, err = invoke("diagnose", str(tmp_path))
    assert code == ExitCode.INPUT
    assert one_error(err) == f"{tmp_path / 'events.out.tfevents.1.a'}: permission denied"
    code, out, err = invoke("audit", str(tmp_path.parent), "-j", "1", "--format", "json")
    (row,) = [r for r in json.loads(out)["runs"] if r["path"] == str(tmp_path)]
    assert row["error"]["message"] == f"{tmp_path / 'events.out.tfevents.1.a'}: permission denied"


def test_diagnose_of_an_unreadable_file_is_lossdoctors_error_exit_3(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "unreadable.csv"
    shutil.copy(EXAMPLES / "healthy" / "metrics.csv", log)
    log.chmod(0)  # for click's os.access check when not root; the read is refused below for root
    monkeypatch.setattr(os, "access", lambda *a, **k: False)  # what click's readable check would see
    refuse_reads(monkeypatch, "unreadable.csv")
    code, _, err = invoke("diagnose", str(log))
    assert code == ExitCode.INPUT
    assert one_error(err) == f"{log}: permission denied"
    config = tmp_path / "unreadable.yaml"
    config.write_text("fail-on: never\n")
    real_read = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == config.name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    code, _, err = invoke("diagnose", str(EXAMPLES / "healthy"), "--config", str(config))
    assert code == ExitCode.USAGE and one_error(err) == f"{config}: cannot read config file (permission denied)"


# -- 7. the new output paths escape what comes from the data ------------------------------------

@pytest.mark.parametrize("ci", [False, True])
def test_new_output_paths_escape_hostile_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ci: bool) -> None:
    """--show-skipped, watch's lines, the output and config errors: no raw control character,
    no line a runner would obey (test_escaping.py covers diagnose and audit's formats)."""
    from test_escaping import ANNOTATION, COMMAND_LINE, FORGE, RAW_CONTROLS, hostile_csv

    monkeypatch.chdir(tmp_path)
    if ci:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
    else:
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    hostile_csv(tmp_path / "root" / "run")
    (tmp_path / "root" / f"=cmd(){FORGE}\x1b]0;t\x07.md").write_text("x")
    (tmp_path / f"bad{FORGE}.yaml").write_text("fail-on: never\nfail-on: info\n")
    outputs = [
        invoke("audit", "root", "-j", "1", "--show-skipped", "--fail-on", "never"),
        invoke("watch", "root/run", "--interval", "0.1", "--idle-timeout", "0.3", "--fail-on", "never"),
        invoke("diagnose", "root/run", "--output", f"missing{FORGE}/x"),
        invoke("diagnose", "root/run", "--config", f"bad{FORGE}.yaml"),
    ]
    assert [code for code, _, _ in outputs] == [ExitCode.OK, ExitCode.OK, ExitCode.OUTPUT, ExitCode.USAGE]
    for _, out, err in outputs:
        for line in (out + err).splitlines():
            assert not RAW_CONTROLS.search(line), line
            if ANNOTATION.match(line):  # our own annotation (under GitHub Actions); its data is escaped
                continue
            assert not line.lstrip().startswith("::"), line
            assert not (ci and COMMAND_LINE.match(line)), line  # `##[` is escaped where a runner reads
    assert "\\n" in outputs[0][1] and ".md: not a log (file name)" in outputs[0][1]


# --- digits that str.isdigit takes and int() does not ------------------------------------------

def test_a_rule_files_knowledge_id_with_a_superscript_digit_renders(tmp_path: Path) -> None:
    """Knowledge ids are sorted by their number; 'P¹' has a digit by str.isdigit, not by int()."""
    (tmp_path / "r.yaml").write_text(
        "id: my_rule\ntitle: My rule\nseverity: warning\nwhen:\n  all:\n    - gained: {slot: train_loss}\n"
        "message: \"{metric} came down\"\nremedies: [\"nothing\"]\nmetadata:\n  knowledge: [\"P\u00b9\", P2]\n  tags: []\n",
        encoding="utf-8")
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss\n" + "".join(f"{i},{2 / (i + 1)}\n" for i in range(30)))
    code, out, err = invoke("diagnose", str(log), "--rules", str(tmp_path / "r.yaml"), "--format", "plain",
                            "--fail-on", "never")
    assert code == 0, err
    assert "lossdoctor explain P\u00b9 P2" in out  # no number: sorted first


def test_a_parquet_part_numbered_with_a_superscript_digit_is_not_a_part(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    log = tmp_path / "runs" / "a" / "log.csv"
    log.parent.mkdir(parents=True)
    log.write_text("epoch,loss\n" + "".join(f"{i},{2 / (i + 1)}\n" for i in range(30)))
    out = tmp_path / "audit.parquet"
    assert invoke("audit", str(tmp_path / "runs"), "--format", "parquet", "-o", str(out), "-j", "1")[0] == 0
    shutil.copy(out / "part-00000.parquet", out / "part-\u00b9.parquet")
    code, _, err = invoke("audit", str(tmp_path / "runs"), "--format", "parquet", "--resume", str(out), "-j", "1")
    assert code == 0 and "internal error" not in err, err
