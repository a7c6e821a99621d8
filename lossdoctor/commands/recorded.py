"""`lossdoctor audit --format jsonl|parquet`: rows recorded to a file as they finish.

Nothing is held back for a table, so the coordinator's memory does not grow with the runs
diagnosed: each batch of rows is written, counted (`Tally`) and dropped. `--resume FILE`
reads the runs an earlier audit recorded and diagnoses only the others, appending to FILE
(unless --output names another file). The summary counts every run found: already
recorded, diagnosed now, failed, not run (when interrupted); and every path skipped.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from ..audit import audit_stream
from ..exitcodes import ExitCode
from ..fanout import EngineOptions, make_engine
from ..findings import AuditRow, Finding, Severity
from ..numfmt import plural
from ..report import Format, RenderOptions
from ..report.escape import text as safe
from ..report.sinks import Done, done_runs, run_key
from ..sources import Discovery


@dataclass
class Tally:
    """Counts over the rows seen, never the rows themselves."""

    resumed: int = 0
    diagnosed: int = 0
    errors: int = 0
    verdicts: Counter = field(default_factory=Counter)
    failing: int = 0  # runs that fail the gate (recorded ones included)
    recorded_ok: int = 0  # recorded runs that were diagnosed

    def add(self, rows: list[AuditRow], options: RenderOptions) -> None:
        for row in rows:
            self.verdicts[row.verdict] += 1
            if row.diagnosis.error:
                self.errors += 1
            else:
                self.diagnosed += 1
            self.failing += options.fails(row.diagnosis)

    def add_done(self, done: Done, options: RenderOptions) -> None:
        self.resumed += 1
        self.verdicts[done.verdict] += 1
        self.recorded_ok += done.verdict not in ("unreadable", "no-loss")
        self.failing += any(options.gate(_finding(rule, sev)) for rule, sev in done.findings)


def _finding(rule: str, severity: str) -> Finding:
    """Enough of a recorded finding for the gate: its rule and severity."""
    try:
        level = Severity.parse(severity)
    except ValueError:
        level = Severity.INFO
    return Finding((0, 0.0), rule, level, "", "", None, None, None)


def run_recorded(chosen: Format, found: Discovery, settings: Any, engine: EngineOptions,
                 options: RenderOptions, target: str | None, resume: str | None,
                 progress: Callable[[int], Any]) -> ExitCode:
    """Diagnose the runs not yet recorded, writing each batch as it finishes."""
    done = done_runs(resume) if resume else {}
    tally = Tally()
    todo = []
    for ref in found.runs:
        key = run_key(ref.path)
        if key in done:
            tally.add_done(done[key], options)
        else:
            todo.append(ref)
    del done  # only the counts are needed from here on
    target = target or resume
    sink = chosen.sink(target, bool(resume) and _same(target, resume))  # type: ignore[misc]
    interrupted = False
    try:
        with make_engine(engine if len(todo) > 1 else EngineOptions("local", 1)) as running:
            for rows in audit_stream(todo, settings, running):
                sink.write(rows, options)
                tally.add(rows, options)
                progress(len(rows))
        sink.skipped(found.skipped_paths)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        sink.close()
    return _finish(tally, found, len(todo), interrupted, target, resume)


def _same(a: str | None, b: str) -> bool:
    return a is not None and os.path.abspath(a) == os.path.abspath(b)


def summary(tally: Tally, found: Discovery, todo: int, interrupted: bool) -> dict[str, Any]:
    out = {"found": len(found.runs), "resumed": tally.resumed, "diagnosed": tally.diagnosed,
           "errors": tally.errors, "verdicts": dict(sorted(tally.verdicts.items())),
           "skipped": dict(sorted(found.skipped.items()))}
    if interrupted:
        out["not_run"] = todo - tally.diagnosed - tally.errors
    return out


def _finish(tally: Tally, found: Discovery, todo: int, interrupted: bool, target: str | None,
            resume: str | None) -> ExitCode:
    s = summary(tally, found, todo, interrupted)
    verdicts = ", ".join(f"{n} {v}" for v, n in s["verdicts"].items())
    line = f"{plural(s['found'], 'run')} found: "
    if resume:
        line += f"{s['resumed']} already in {resume}, "
    line += f"{s['diagnosed']} diagnosed, {s['errors']} could not be diagnosed" + (f" ({verdicts})" if verdicts else "")
    if interrupted:
        line += f"; interrupted: {s['not_run']} not run (continue with --resume {target or 'FILE'})"
    skipped = ", ".join(f"{n} {why}" for why, n in s["skipped"].items())
    print(safe(line + (f"; skipped: {skipped}" if skipped else "")), file=sys.stderr)
    if interrupted:
        print("lossdoctor: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    if tally.diagnosed + tally.recorded_ok == 0:
        print("lossdoctor: error: no run could be diagnosed", file=sys.stderr)
        return ExitCode.NOTHING
    return ExitCode.FINDINGS if tally.failing else ExitCode.OK
