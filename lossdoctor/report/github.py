"""GitHub Actions workflow commands: one `::error file=...,title=...::message` line per story
(one event across the run's series, see stories.py).

Escaping follows GitHub's workflow-command rules (escape.command_data / command_property):
in the message `%`, CR and LF become `%25`, `%0D`, `%0A`; in a property also `:` and `,`
(`%3A`, `%2C`), since those delimit the properties themselves. Data inside the message
(metric names, paths) has its own control characters shown visibly first, so a newline in
a metric name is `\\n` in the annotation, not a line of its own.
"""

from __future__ import annotations

from typing import TextIO

from ..findings import Diagnosis, Severity
from . import escape, phrases
from .stories import Story, stories
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


def _story_text(story: Story, verbosity: int) -> str:
    v = phrases.story_view(story, escape.controls, verbosity)
    lines = [v.message + (f" ({v.where})" if v.where else "")]
    if v.same_in:
        lines.append(f"The same in: {v.same_in}")
    if v.timeline:
        lines += ["Timeline:"] + [f"- {t}" for t in v.timeline]
        lines += [phrases.hidden_timeline(v.hidden_timeline)] if v.hidden_timeline else []
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
        for story in stories(diag):
            props = {"file": file, "title": f"{', '.join(story.rules)}: {story.lead.title}"}
            out.write(annotation(COMMAND[story.severity], props, _story_text(story, options.verbosity)) + "\n")
