"""Running one mutant through lossdoctor, and judging what came out.

A worker process (forked once, lossdoctor imported once, its address space capped with
RLIMIT_AS) runs the real command line in-process with click's CliRunner, one command at a
time, announcing each before it starts: the parent's watchdog then knows which command hung
when the worker stops answering, and kills it. Each command's outcome is classified:

    success   exit 0, 1 or 4
    clean     exit 2, 3, 5 or 6 with one `lossdoctor: ...` line on stderr per unreadable run
              (an mlflow.db of two runs says two), nothing else, no traceback
    crash     exit 70 or any other code, a traceback, a Python warning on stderr (numpy's
              RuntimeWarning of an overflow the code did not expect, shown each time: the
              worker's filter is "always"), an exception out of click, a worker that died,
              or data-born output injection (below)
    memory    a MemoryError (the address-space cap was hit)
    hang      no answer within the per-command time limit

Injection: no raw ESC byte in any output (the rich renderers' own SGR colour codes aside),
and no line on stdout or stderr starting with `::` that lossdoctor did not write itself
(its annotations: `::error file=...`, `::warning file=...`, `::notice file=...`).
"""

from __future__ import annotations

import os
import re
import resource
import signal
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Optional

DIAGNOSE_FORMATS = ("plain", "rich", "json", "markdown", "github", "junit", "html")
AUDIT_FORMATS = ("table", "rich", "json", "jsonl", "csv", "markdown", "github", "junit", "parquet")
SUCCESS, CLEAN = {0, 1, 4}, {2, 3, 5, 6}
SGR = re.compile(r"\x1b\[[0-9;]*m")
OWN_ANNOTATION = re.compile(r"::(error|warning|notice) file=[^:\n]*::")
WARNING_LINE = re.compile(r"^\S.*:\d+: [A-Za-z]*Warning: ", re.M)  # warnings.formatwarning's line
OWN_STATUS = "lossdoctor watch: "  # watch says on stderr why it stopped, before the final report
LINE_CHECKED = {"plain", "rich", "github", "table", "markdown"}  # formats a CI log shows as lines


@dataclass
class Outcome:
    """One command's result."""

    argv: list[str]
    kind: str  # success, clean, crash, memory, hang
    exit_code: Optional[int] = None
    detail: str = ""  # why it is a crash (the first stderr line, the violation)
    stderr: str = ""
    seconds: float = 0.0
    traceback: str = ""
    stdin: Optional[str] = None


@dataclass
class Command:
    argv: list[str]
    fmt: str
    env: dict[str, Optional[str]] = field(default_factory=dict)
    stdin: Optional[str] = None  # a file whose bytes are standard input


STDIN_SUFFIXES = (".csv", ".json", ".jsonl", ".txt", ".log")


def commands(target: str, folder: str, scratch: str, formats: Optional[set[str]] = None,
             ci: bool = False) -> list[Command]:
    """`diagnose` of the target in every format, `audit` of its folder in every format, `watch`
    of both.

    Outside CI, rich wraps long lines at the terminal's width, so a metric named `::error::x`
    after a space may begin a line; `::` in data is neutralised only under a CI runner
    (escape.on_ci), as the README says. So off CI rich gets a width it never wraps at (a
    line starting with `::` is then a newline from the data); under CI it wraps as usual."""
    env = {"GITHUB_ACTIONS": "true" if ci else None, "COLUMNS": None if ci else "100000"}  # None: unset
    out = []
    for fmt in DIAGNOSE_FORMATS:
        if formats is None or f"diagnose:{fmt}" in formats or fmt in formats:
            out.append(Command(["diagnose", target, "--format", fmt], fmt, env))
    for fmt in AUDIT_FORMATS:
        if formats is None or f"audit:{fmt}" in formats or fmt in formats:
            extra = ["-o", os.path.join(scratch, "parquet-out")] if fmt == "parquet" else []
            out.append(Command(["audit", folder, "--format", fmt, "--jobs", "1", *extra], fmt, env))
    if formats is None or "watch" in formats:
        out += watch_commands(target, folder, env)
    if formats is None or "options" in formats:
        out += option_commands(target, folder, scratch, env)
    return out


def watch_commands(target: str, folder: str, env: dict[str, Optional[str]]) -> list[Command]:
    """`watch` of the target and of its folder: its own readers (sources/follow*.py, reading
    from a byte offset) on the same bytes, one judgement, then stop (--idle-timeout 0)."""
    once = ["--idle-timeout", "0", "--interval", "0.05"]
    report = "github" if env.get("GITHUB_ACTIONS") else "plain"  # the final report's `auto`
    return [Command(["watch", target, "--format", "jsonl", *once], "json", env),
            Command(["watch", folder, "-v", *once], report, env)]


def option_commands(target: str, folder: str, scratch: str, env: dict[str, Optional[str]]) -> list[Command]:
    """The options that render or write more from the data: -v (evidence numbers, every
    remedy), --color, --rewind-plan files, --verify, standard input, --sort, --resume."""
    jsonl = os.path.join(scratch, "runs.jsonl")
    out = [Command(["diagnose", target, "--format", "plain", "-v", "--rewind-plan", os.path.join(scratch, "rw"),
                    "--max-spike-score", "0.001"], "plain", env),
           Command(["diagnose", target, "--format", "rich", "--color", "-q"], "rich", env),
           Command(["audit", folder, "--format", "table", "-v", "--sort", "findings", "--jobs", "1"], "table", env),
           Command(["audit", folder, "--format", "jsonl", "-o", jsonl, "--jobs", "1"], "jsonl", env),
           Command(["audit", folder, "--format", "jsonl", "--resume", jsonl, "--jobs", "1"], "jsonl", env)]
    if "tfevents" in target or target.endswith(".wandb"):
        out.append(Command(["diagnose", target, "--format", "json", "--verify"], "json", env))
    if target.endswith(STDIN_SUFFIXES) and os.path.isfile(target):
        out.append(Command(["diagnose", "-", "--format", "plain"], "plain", env, stdin=target))
    return out


def violations(fmt: str, stdout: str, stderr: str) -> list[str]:
    """Data-born output injection in one command's output."""
    found = []
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        if fmt == "parquet" and name == "stdout":
            continue
        bare = SGR.sub("", text) if fmt == "rich" and name == "stdout" else text
        if "\x1b" in bare:
            i = bare.index("\x1b")
            found.append(f"raw ESC in {name}: {bare[max(0, i - 30):i + 10]!r}")
        if name == "stderr" or fmt in LINE_CHECKED:
            for line in SGR.sub("", text).splitlines():
                if line.lstrip().startswith("::") and not (fmt == "github" and name == "stdout"
                                                           and OWN_ANNOTATION.match(line)):
                    found.append(f"forged workflow command in {name}: {line[:80]!r}")
                    break
    return found


def classify(cmd: Command, code: Optional[int], stdout: str, stderr: str, exc: Optional[BaseException]) -> Outcome:
    first = next((line for line in stderr.splitlines() if line.strip()), "")
    if exc is not None:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        kind = "memory" if isinstance(exc, MemoryError) else "crash"
        return Outcome(cmd.argv, kind, code, f"uncaught {type(exc).__name__}: {exc}"[:300], stderr[-4000:],
                       traceback=tb)
    if "MemoryError" in stderr and code == 70:
        return Outcome(cmd.argv, "memory", code, first[:300], stderr[-4000:])
    if "Traceback (most recent call last)" in stderr:
        return Outcome(cmd.argv, "crash", code, "traceback on stderr", stderr[-4000:])
    warned = WARNING_LINE.search(stderr)
    if warned:
        line = stderr[warned.start():].splitlines()[0]
        return Outcome(cmd.argv, "crash", code, f"warning on stderr: {line}"[:300], stderr[-4000:])
    bad = violations(cmd.fmt, stdout, stderr)
    if bad:
        return Outcome(cmd.argv, "crash", code, "injection: " + "; ".join(bad)[:300], stderr[-4000:])
    if code in SUCCESS:
        return Outcome(cmd.argv, "success", code)
    if code in CLEAN:
        lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(OWN_STATUS)]
        if not lines or not all(line.startswith("lossdoctor: ") for line in lines):  # one line per run
            return Outcome(cmd.argv, "crash", code, f"exit {code} without one-line errors: {lines[:3]}"[:300],
                           stderr[-4000:])
        return Outcome(cmd.argv, "clean", code, first[:300])
    return Outcome(cmd.argv, "crash", code, f"exit {code}: {first}"[:300], stderr[-4000:])


def run_one(cmd: Command) -> Outcome:
    """Run one command in this process (the worker)."""
    from click.testing import CliRunner

    from lossdoctor.cli import main

    runner = CliRunner()
    start = time.perf_counter()
    old = {k: os.environ.get(k) for k in cmd.env}
    try:
        for k, v in cmd.env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        data = Path(cmd.stdin).read_bytes() if cmd.stdin else None
        result = runner.invoke(main, cmd.argv, input=data, catch_exceptions=True)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    exc = result.exception if result.exception and not isinstance(result.exception, SystemExit) else None
    stdout = result.stdout_bytes.decode("utf-8", "surrogateescape")
    stderr = result.stderr_bytes.decode("utf-8", "surrogateescape")
    outcome = classify(cmd, result.exit_code, stdout, stderr, exc)
    outcome.seconds = time.perf_counter() - start
    outcome.stdin = cmd.stdin
    if outcome.kind in ("crash", "memory") and not outcome.traceback and exc is None:
        debug = runner.invoke(main, [*cmd.argv, "--debug"], input=data, catch_exceptions=True)
        outcome.traceback = debug.stderr_bytes.decode("utf-8", "replace")[-6000:]
    return outcome


def worker(conn: Connection, mem_bytes: int) -> None:
    """The worker loop: receive a list of Commands, send ("start", i) then ("done", i, Outcome)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler is for the parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent reports, then kills us
    if mem_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    import lossdoctor.cli  # noqa: F401 - imported once, before the first timed command

    # Every warning printed every time: under the default filter a warning shows once per
    # line of code, so in a long-lived worker only the first input to hit it would say so.
    warnings.simplefilter("always")

    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        for i, cmd in enumerate(job):
            conn.send(("start", i))
            try:
                outcome = run_one(cmd)
            except MemoryError:
                outcome = Outcome(cmd.argv, "memory", None, "MemoryError in the runner")
            except BaseException as exc:  # noqa: BLE001 - the fuzzer's own boundary
                outcome = Outcome(cmd.argv, "crash", None, f"runner: {type(exc).__name__}: {exc}"[:300],
                                  traceback=traceback.format_exc())
            conn.send(("done", i, outcome))
        conn.send(("end",))
