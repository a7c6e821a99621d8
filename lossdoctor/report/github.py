"""GitHub Actions workflow commands: one `::error file=...,title=...::message` line per finding.

Escaping follows GitHub's workflow-command rules (escape.command_data / command_property):
in the message `%`, CR and LF become `%25`, `%0D`, `%0A`; in a property also `:` and `,`
(`%3A`, `%2C`), since those delimit the properties themselves. Data inside the message
(metric names, paths) has its own control characters shown visibly first, so a newline in
a metric name is `\\n` in the annotation, not a line of its own.
"""

from __future__ import annotations

from typing import TextIO

from ..findings import Diagnosis, Finding, Severity
from . import escape, phrases
from .options import DEFAULT_OPTIONS, RenderOptions

COMMAND = {Severity.INFO: "notice", Severity.WARNING: "warning", Severity.ERROR: "error"}


def escape_data(text: str) -> str:
    """Escape an annotation message."""
    return escape.command_data(text)


def escape_property(text: str) -> str:
    """Escape a property value (file=, title=)."""
    return escape.command_property(text)


def annotation(command: str, props: dict[str, str], message: str) -> str:
    """One workflow-command line."""
    joined = ",".join(f"{k}={escape_property(v)}" for k, v in props.items())
    return f"::{command} {joined}::{escape_data(message)}"


def _finding_text(f: Finding, verbosity: int) -> str:
    v = phrases.finding_view(f, escape.controls, verbosity)
    lines = [v.message + (f" ({v.where})" if v.where else "")]
    if v.remedies:
        lines += ["What to do:"] + [f"- {r}" for r in v.remedies]
        lines += [phrases.hidden_remedies(v.hidden)] if v.hidden else []
    lines.append(f"({v.more})")
    return "\n".join(lines)


def render_github(diagnoses: list[Diagnosis], out: TextIO,
                  options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """Annotations only: a clean run prints nothing (the exit code says it passed)."""
    for diag in diagnoses:
        file = options.rel(diag.path)
        if diag.error:
            props = {"file": file, "title": f"lossdoctor: cannot diagnose ({diag.error.kind})"}
            out.write(annotation("error", props, escape.controls(diag.error.message)) + "\n")
            continue
        for f in diag.findings:
            props = {"file": file, "title": f"{f.rule}: {f.title}"}
            out.write(annotation(COMMAND[f.severity], props, _finding_text(f, options.verbosity)) + "\n")
