"""Audit renderers besides the table: json, csv, markdown, and the CI formats (github, junit).

Each takes an AuditReport (the shown rows, the summary counted over ALL runs found), a
stream and the render options. JSON is `{"version": 1, "lossdoctor": ..., "gate": ...,
"runs": [...], "summary": {...}, "skipped": [{path, reason, detail}, ...]}`; CSV and Markdown have the table's columns; github and
junit are the diagnose formats over the runs' diagnoses (a CI gate over many runs).
"""

from __future__ import annotations

import csv
from typing import TextIO

from .. import numfmt
from ..findings import AuditReport
from . import escape, json_out
from .audit_table import COLUMNS, cells, header, rule_ids, shown_run
from .github import render_github as github_runs
from .junit import render_junit as junit_runs
from .options import DEFAULT_OPTIONS, RenderOptions


def render_json(report: AuditReport, out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """One document; each run is Diagnosis.to_dict() plus the audit columns and the gate."""
    runs = [{**r.to_dict(), "fails_gate": options.fails(r.diagnosis)} for r in report.rows]
    failed = any(options.fails(r.diagnosis) for r in report.rows)
    json_out.dump({**json_out.header(options, failed), "runs": runs, "summary": report.summary,
                   "skipped": report.skipped}, out)


def render_csv(report: AuditReport, out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """The table's columns with plain numbers (12345, not 12,345); `findings` holds rule ids
    separated by spaces (or the error). Text cells are guarded against formulas."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in report.rows:
        d = row.diagnosis
        raw = {"run": row.run, "format": d.format or "", "points": "" if d.error else d.points,
               "verdict": row.verdict, "findings": d.error.message if d.error else " ".join(rule_ids(row)),
               "best_val_step": _plain(numfmt.json_step(row.best_val_step)),
               "best_val_loss": _plain(numfmt.json_number(row.best_val_loss)),
               "final_val_loss": _plain(numfmt.json_number(row.final_val_loss))}
        writer.writerow([escape.csv_cell(raw[c]) for c in COLUMNS])


def _plain(value: object) -> object:
    return "" if value is None else value


def render_markdown(report: AuditReport, out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """A GitHub-flavoured Markdown table; every cell escaped (escape.markdown)."""
    out.write("| " + " | ".join(header(c) for c in COLUMNS) + " |\n")
    out.write("|" + "|".join("---:" if c in ("points", "best_val_step", "best_val_loss", "final_val_loss")
                             else "---" for c in COLUMNS) + "|\n")
    for row in report.rows:
        text = cells(row, options.root)
        raw = {"run": shown_run(row.run, options.root), "format": row.diagnosis.format or "",
               "findings": row.diagnosis.error.message if row.diagnosis.error else ", ".join(rule_ids(row))}
        shown = {c: escape.markdown(raw[c]) if c in raw else text[c] for c in COLUMNS}
        shown["run"] = escape.markdown_code(raw["run"], table=True)
        out.write("| " + " | ".join(shown[c] for c in COLUMNS) + " |\n")


def render_github(report: AuditReport, out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """One workflow annotation per finding of every run (a run that cannot be read: one error)."""
    github_runs([r.diagnosis for r in report.rows], out, options)


def render_junit(report: AuditReport, out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """One <testsuite> per run, as for diagnose."""
    junit_runs([r.diagnosis for r in report.rows], out, options)
