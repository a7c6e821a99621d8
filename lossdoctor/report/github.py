"""GitHub Actions workflow commands: one `::error file=...,title=...::message` line per finding.

Escaping follows the workflow-command spec (actions/toolkit `command.ts`): in the message
`%`, CR and LF become `%25`, `%0D`, `%0A`; in a property also `:` and `,` (`%3A`, `%2C`),
since those delimit the properties themselves.
"""

from __future__ import annotations

from typing import TextIO

from ..findings import Diagnosis, Finding, Severity
from ..engine.template import format_step
from .options import DEFAULT_OPTIONS, RenderOptions

COMMAND = {Severity.INFO: "notice", Severity.WARNING: "warning", Severity.ERROR: "error"}


def escape_data(text: str) -> str:
    """Escape an annotation message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (file=, title=)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(command: str, props: dict[str, str], message: str) -> str:
    """One workflow-command line."""
    joined = ",".join(f"{k}={escape_property(v)}" for k, v in props.items())
    return f"::{command} {joined}::{escape_data(message)}"


def _finding_text(f: Finding) -> str:
    where = ", ".join(x for x in (f.metric, f"step {format_step(f.step)}" if f.step is not None else None) if x)
    lines = [f.message + (f" ({where})" if where else "")]
    if f.remedies:
        lines += ["What to do:"] + [f"- {r}" for r in f.remedies]
    lines.append(f"(more: lossdoctor rules show {f.rule})")
    return "\n".join(lines)


def render_github(diagnoses: list[Diagnosis], out: TextIO,
                  options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """Annotations only: a clean run prints nothing (the exit code says it passed)."""
    for diag in diagnoses:
        file = options.rel(diag.path)
        if diag.error:
            props = {"file": file, "title": f"lossdoctor: cannot diagnose ({diag.error.kind})"}
            out.write(annotation("error", props, diag.error.message) + "\n")
            continue
        for f in diag.findings:
            props = {"file": file, "title": f"{f.rule}: {f.title}"}
            out.write(annotation(COMMAND[f.severity], props, _finding_text(f)) + "\n")
