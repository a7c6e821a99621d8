"""`lossdoctor diagnose`: find the runs under each path, diagnose each, render one report,
return the gate's exit code over all of them."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

from ..api import diagnose_each
from ..diagnose import Settings, diagnose_ref
from ..exitcodes import ExitCode
from ..findings import Diagnosis
from ..report import pick
from ..report.escape import text as safe
from ..report.rewind_files import write_plans
from ..sources import RunRef
from .common import FailOn, View, draw_picture, exit_code, resolve

STDIN = "-"


def diagnose(paths: tuple[str | Path, ...], fmt: str, fail_on: str | None, metrics: tuple[str, ...],
             ignore: tuple[str, ...], rule_paths: tuple[Path, ...], output: TextIO | None,
             config: Path | None = None, verify: bool = False, view: View = View(),
             max_spike_score: float | None = None, rewind_dir: Path | None = None) -> ExitCode:
    """`lossdoctor diagnose`: report every run under the paths, return the gate's exit code.

    `fail_on=None` means "not given": the config files (or the default, error) decide."""
    resolved = resolve(config, fail_on, metrics, ignore, rule_paths, max_spike_score)
    settings, gate = resolved.settings, resolved.gate
    if verify:
        settings = dataclasses.replace(settings, verify=True)
    with _stdin_as_file(paths) as stdin_file:
        diagnoses = [d for p in paths for d in diagnose_arg(str(p), settings, stdin_file)]
    stream = output or sys.stdout
    chosen = pick(fmt, stream, view.color)
    for d in diagnoses:
        if d.error:
            print(f"lossdoctor: error: {safe(d.error.message)}", file=sys.stderr)
    options = view.apply(resolved.render_options())
    if rewind_dir is not None:
        write_plans(diagnoses, rewind_dir)
    if view.plot:
        options = dataclasses.replace(options, image=draw_picture(diagnoses, view.plot))
    # A lone unreadable run is said once, on stderr; in a batch it keeps its section.
    shown = diagnoses if chosen.machine or len(diagnoses) > 1 else \
        [d for d in diagnoses if not d.error]
    if shown:
        chosen.diagnose(shown, stream, options)
    if len(diagnoses) > 1 and not chosen.machine:  # machine formats carry every run already
        print(safe(summary_line(diagnoses, gate)), file=stream)
    return exit_code(diagnoses, gate)


def diagnose_arg(arg: str, settings: Settings, stdin_file: str | None = None) -> list[Diagnosis]:
    """Every run one command-line path holds, diagnosed (an error record when there is none)."""
    if arg == STDIN and stdin_file is not None:
        diag = diagnose_ref(RunRef(stdin_file, "stdin", "<stdin>"), settings)
        diag.path = "<stdin>"
        return [diag]
    return diagnose_each(arg, settings)  # the Python API's lossdoctor.diagnose_all


@contextmanager
def _stdin_as_file(paths: tuple[str | Path, ...]) -> Iterator[str | None]:
    """`-` among the paths: standard input copied to a temporary file that readers can open twice."""
    if not any(str(p) == STDIN for p in paths):
        yield None
        return
    folder = tempfile.mkdtemp(prefix="lossdoctor-stdin-")
    try:
        target = Path(folder) / "stdin"
        with open(target, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out)
        yield str(target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def summary_line(diagnoses: list[Diagnosis], gate: FailOn) -> str:
    """`4 runs: 1 error, 1 unreadable, 2 healthy; failing the gate: lightning_logs/version_1 (nan_loss)`."""
    counts = Counter(_verdict(d) for d in diagnoses)
    parts = ", ".join(f"{counts[k]} {k}" for k in _VERDICTS if k in counts)
    failing = [f"{d.name or d.path} ({', '.join(_why_failing(d, gate))})"
               for d in diagnoses if not d.error and gate.fails(d)]
    more = " ..." if len(failing) > 5 else ""
    tail = f"; failing the gate: {'; '.join(failing[:5])}{more}" if failing else ""
    return f"{len(diagnoses)} runs: {parts}{tail}"


def _why_failing(d: Diagnosis, gate: FailOn) -> list[str]:
    """The rules (and the spike score) that fail a run."""
    why = sorted({f.rule for f in d.findings if gate.fails_finding(f)})
    if d.spike_score_exceeds(gate.max_spike_score):
        why.append(f"spike score {d.spike_score:.3g} > {gate.max_spike_score:g}")
    return why


_VERDICTS = ("error", "warning", "unreadable", "no loss", "failed", "too short to judge", "healthy")


def _verdict(d: Diagnosis) -> str:
    if d.error:
        return {"input": "unreadable", "nothing": "no loss"}.get(d.error.kind, "failed")
    if d.verdict == "short":
        return "too short to judge"
    return d.worst.label if d.worst is not None and d.worst.label != "info" else "healthy"
