"""Audit renderers by format: table (rich or plain), json, csv, markdown.

Every renderer takes the shown rows, the audit summary (counts over ALL runs found) and
a stream. JSON is `{"version": 1, "runs": [...], "summary": {...}}`; CSV and Markdown
have the table's columns; the summary line of the text formats is printed by the command.
"""

from __future__ import annotations

import csv
import json
from typing import Any, Callable, TextIO

from ..audit import AuditRow
from .audit_table import COLUMNS, cells, header, render_plain, render_rich
from .json_out import SCHEMA_VERSION

AuditRenderer = Callable[[list[AuditRow], dict[str, Any], TextIO], None]


def render_json(rows: list[AuditRow], summary: dict[str, Any], out: TextIO) -> None:
    """One document; each run is Diagnosis.to_dict() plus the audit columns."""
    doc = {"version": SCHEMA_VERSION, "runs": [r.to_dict() for r in rows], "summary": summary}
    json.dump(doc, out, indent=2, allow_nan=False)
    out.write("\n")


def render_csv(rows: list[AuditRow], summary: dict[str, Any], out: TextIO) -> None:
    """The table's columns; `findings` holds rule ids separated by spaces (or the error)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        text = cells(row)
        if not row.diagnosis.error:
            text["findings"] = text["findings"].replace(", ", " ")
        writer.writerow([text[c] for c in COLUMNS])


def render_markdown(rows: list[AuditRow], summary: dict[str, Any], out: TextIO) -> None:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    out.write("| " + " | ".join(header(c) for c in COLUMNS) + " |\n")
    out.write("|" + "|".join("---:" if c in ("points", "best_val_step", "best_val_loss", "final_val_loss")
                             else "---" for c in COLUMNS) + "|\n")
    for row in rows:
        text = cells(row)
        out.write("| " + " | ".join(_md(text[c]) for c in COLUMNS) + " |\n")


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


AUDIT_RENDERERS: dict[str, AuditRenderer] = {
    "plain": lambda rows, summary, out: render_plain(rows, out),
    "rich": lambda rows, summary, out: render_rich(rows, out),
    "json": render_json,
    "csv": render_csv,
    "markdown": render_markdown,
}
AUDIT_MACHINE_FORMATS = frozenset({"json", "csv", "markdown"})
AUDIT_FORMAT_CHOICES = ("table", "json", "csv", "markdown")
