"""What `watch` reports as it goes, one event at a time, as text lines or JSON lines.

Every event is a dict with `event` (its kind) and `time` (Unix seconds): `watch` (started:
the path, the interval), `run` (a run was found), `finding` (a finding appeared: the run
and the finding's JSON record, as in `diagnose --format json`), `resolved` (a finding went
away: its last record), `exec` (the `--exec` command ran: its argv and exit status),
`end` (why watch stopped, its exit code, and every run's final diagnosis record).
Text comes from the data (metric names, messages) and is escaped for the terminal.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, TextIO

from ..findings import Finding
from .. import numfmt
from ..report.escape import text as safe

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def event(kind: str, **fields: Any) -> dict[str, Any]:
    """One event record."""
    return {"event": kind, "time": round(time.time(), 3), **fields}


def finding_event(kind: str, run: str, finding: Finding) -> dict[str, Any]:
    """A `finding` or `resolved` event: the run's name and the finding's JSON record."""
    return event(kind, run=run, **finding.to_dict())


def step_text(step: Any) -> str:
    """A step as people read it (1,234), `-` for a finding without one."""
    return "-" if step is None else numfmt.step(step)


def text_line(ev: dict[str, Any]) -> str | None:
    """The line a person reads for an event (None: the event says nothing worth a line)."""
    kind, run = ev["event"], safe(ev.get("run", ""))
    if kind == "finding":
        return (f"{run}: step {step_text(ev['step'])}: {ev['severity']} {safe(ev['rule'])}: "
                f"{safe(ev['message'])}")
    if kind == "resolved":
        return f"{run}: resolved: {safe(ev['rule'])} on {safe(ev['metric'] or '-')} (first seen at step " \
               f"{step_text(ev['step'])}) no longer holds"
    if kind == "run":
        return f"watching {run} ({safe(ev['layout'])})"
    if kind == "exec":
        return f"ran {safe(' '.join(ev['argv']))}: exit status {ev['returncode']}"
    return None


@dataclass
class Emitter:
    """Writes events to a stream: `jsonl` one JSON object per line, `text` one line each."""

    stream: TextIO
    fmt: str = "text"

    def emit(self, ev: dict[str, Any], printer: Any = None) -> None:
        """Write one event; `printer` (a rich console under a live status) writes text lines."""
        if self.fmt == "jsonl":
            # ASCII, as the JSON report: a lone surrogate from a JSON key stays an escape.
            self.stream.write(json.dumps(ev, allow_nan=False, ensure_ascii=True) + "\n")
            self.stream.flush()
            return
        line = text_line(ev)
        if line is None:
            return
        if printer is not None:
            printer(line, ev.get("severity"))
        else:
            self.stream.write(line + "\n")
            self.stream.flush()
