"""The one table of output formats, for `diagnose` and `audit` alike.

Each Format names its renderer for a diagnosis (a list of Diagnosis) and for an audit (an
AuditReport); either may be missing (csv is audit-only, html diagnose-only). The streaming
audit formats (jsonl, parquet) have a sink instead, written as rows arrive (`sinks`). `machine`
formats put only the payload on stdout (summaries and errors go to stderr). `pick` turns
`auto` (diagnose) and `table` (audit) into a concrete format with one terminal check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Optional, TextIO

from ..findings import AuditReport, Diagnosis
from . import audit_formats, audit_table, github, human, json_out, junit, markdown, sinks
from .options import DEFAULT_OPTIONS, RenderOptions

DiagnoseRenderer = Callable[[list[Diagnosis], TextIO, RenderOptions], None]
AuditRenderer = Callable[[AuditReport, TextIO, RenderOptions], None]


@dataclass(frozen=True)
class Format:
    """One output format and what it can render."""

    name: str
    machine: bool  # stdout carries the payload only
    diagnose: Optional[DiagnoseRenderer] = None
    audit: Optional[AuditRenderer] = None
    sink: Optional[Callable[[Optional[str], bool], Any]] = None  # (target, append) -> a sink


def _html(diagnoses: list[Diagnosis], out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    from .html import render_html  # matplotlib is imported only when a picture is drawn

    render_html(diagnoses, out, options)


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("plain", False, human.render_plain, audit_table.render_plain),
    Format("rich", False, human.render_rich, audit_table.render_rich),
    Format("json", True, json_out.render_json, audit_formats.render_json),
    Format("markdown", True, markdown.render_markdown, audit_formats.render_markdown),
    Format("github", True, github.render_github, audit_formats.render_github),
    Format("junit", True, junit.render_junit, audit_formats.render_junit),
    Format("csv", True, None, audit_formats.render_csv),
    Format("html", True, _html, None),
    Format("jsonl", True, sink=sinks.JsonlSink),
    Format("parquet", True, sink=sinks.ParquetSink),
)}
DIAGNOSE_CHOICES = ("auto", *(n for n, f in FORMATS.items() if f.diagnose))
AUDIT_CHOICES = ("table", *(n for n, f in FORMATS.items() if f.audit or f.sink))


def is_terminal(stream: TextIO) -> bool:
    """A terminal that can show colour and box drawing (not TERM=dumb)."""
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"


def pick(name: str, stream: TextIO, color: bool | None = None) -> Format:
    """`auto`: github under GitHub Actions, else as `table`; `table`: rich on a terminal (or
    with --color), plain otherwise; any other name is itself."""
    if name == "auto" and os.environ.get("GITHUB_ACTIONS") == "true":
        return FORMATS["github"]
    if name in ("auto", "table"):
        return FORMATS["rich" if color is True or is_terminal(stream) else "plain"]
    return FORMATS[name]
