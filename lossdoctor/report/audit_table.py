"""The audit summary table: one row per run, as plain text or a rich table.

`COLUMNS` and `cells` are shared with the CSV and Markdown renderers, so every text format
shows the same columns. When a width is given (a terminal), the table fits it: columns give
way in the order of GIVE_WAY, then the findings and the run path are shortened (the path
from the left, keeping its end); the verdict is never cut.
"""

from __future__ import annotations

import os
from typing import TextIO

from .. import numfmt
from ..findings import AuditReport, AuditRow
from . import escape
from .options import DEFAULT_OPTIONS, RenderOptions

COLUMNS = ("run", "format", "points", "verdict", "findings", "best_val_step", "best_val_loss", "final_val_loss")
_HEADERS = {"best_val_step": "best val step", "best_val_loss": "best val", "final_val_loss": "final val"}
_NUMERIC = {"points", "best_val_step", "best_val_loss", "final_val_loss"}
_STYLE = {"error": "bold red", "unreadable": "bold magenta", "no-loss": "magenta",
          "warning": "yellow", "short": "blue", "info": "cyan", "ok": "green"}
# How the table gives way to a narrow terminal, step by step until it fits: shorten a
# column to n characters (the run path from the left, so its end stays) or drop a column.
# The verdict is never cut; the run and the findings keep at least their last width.
GIVE_WAY: tuple[tuple[str, int | None], ...] = (
    ("run", 48), ("format", None), ("final_val_loss", None), ("findings", 28), ("best_val_step", None),
    ("points", None), ("run", 24), ("best_val_loss", None), ("findings", 12), ("run", 12))
GAP = 2  # spaces between plain columns


def rule_ids(row: AuditRow) -> list[str]:
    """The rules that fired, each once, worst first (the findings' own order)."""
    return list(dict.fromkeys(f.rule for f in row.diagnosis.findings))


def shown_run(run: str, root: str | None) -> str:
    """The run as the table shows it: relative to the audit's root when it lies under it."""
    if root:
        rel = os.path.relpath(os.path.abspath(run.split("#")[0]), os.path.abspath(root))
        if not rel.startswith(".."):
            tail = run[len(run.split("#")[0]):]  # `#<run_uuid>` of an MLflow store
            run = (os.path.basename(os.path.abspath(root)) if rel == "." else rel) + tail
    return run.replace(os.sep, "/")


def cells(row: AuditRow, root: str | None = None) -> dict[str, str]:
    """The text of each column, data escaped for text; an unreadable run shows its error."""
    d = row.diagnosis
    findings = d.error.message if d.error else ", ".join(rule_ids(row))
    return {
        "run": escape.text(shown_run(row.run, root)), "format": escape.text(d.format or ""),
        "points": numfmt.count(d.points) if not d.error else "", "verdict": row.verdict,
        "findings": escape.text(findings),
        "best_val_step": "" if row.best_val_step is None else numfmt.step(row.best_val_step),
        "best_val_loss": _loss(row.best_val_loss), "final_val_loss": _loss(row.final_val_loss),
    }


def _loss(value: float | None) -> str:
    return "" if value is None else numfmt.significant(value)


def header(column: str) -> str:
    """Column title for humans."""
    return _HEADERS.get(column, column)


def order() -> list[str]:
    """The columns left to right, findings last (it is the one that can be long)."""
    return [c for c in COLUMNS if c != "findings"] + ["findings"]


def fit(table: list[dict[str, str]], width: int | None, gap: int = GAP) -> tuple[list[str], list[dict[str, str]]]:
    """The columns kept and the cells shortened so every line fits `width` (None: no limit)."""
    columns = order()
    widths = {c: max(len(line[c]) for line in table) for c in columns}
    for column, limit in GIVE_WAY:
        if width is None or sum(widths[c] for c in columns) + gap * (len(columns) - 1) <= width:
            break
        if limit is None:
            columns.remove(column)
        elif widths[column] > limit:
            cut = _cut_start if column == "run" else _cut_end
            table = [{**line, column: cut(line[column], limit)} for line in table]
            widths[column] = limit
    return columns, table


def _cut_end(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _cut_start(text: str, n: int) -> str:
    return text if len(text) <= n else "…" + text[len(text) - n + 1:]


def _lines(report: AuditReport, options: RenderOptions) -> tuple[list[str], list[dict[str, str]]]:
    table = [{c: header(c) for c in COLUMNS}] + [cells(r, options.root) for r in report.rows]
    return fit(table, options.width)


def render_plain(report: AuditReport, out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """Fixed-width text columns; the findings column goes last, unpadded."""
    columns, table = _lines(report, options)
    widths = {c: max(len(line[c]) for line in table) for c in columns}
    for line in table:
        parts = [line[c].rjust(widths[c]) if c in _NUMERIC else line[c].ljust(widths[c]) for c in columns]
        out.write((" " * GAP).join(parts).rstrip() + "\n")


def render_rich(report: AuditReport, out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """A rich table (no borders, so it fits as the plain one does), verdicts coloured."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from .human import wants_color

    columns, table = _lines(report, options)
    widths = {c: max(len(line[c]) for line in table) for c in columns}
    # a right padding of GAP - 1 plus the box's one-space divider: the plain table's gap
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False,
                 padding=(0, GAP - 1, 0, 0))
    for column in columns:  # the widths `fit` chose: rich must not shrink (and cut) a verdict
        grid.add_column(table[0][column], justify="right" if column in _NUMERIC else "left", no_wrap=True,
                        width=widths[column], min_width=widths[column])
    for row, line in zip(report.rows, table[1:]):
        style = _STYLE.get(row.verdict, "")
        grid.add_row(*(Text(line[c], style=style if c == "verdict" else "") for c in columns))
    Console(file=out, force_terminal=True, soft_wrap=False, no_color=not wants_color(options),
            width=options.width or 10_000, highlight=False, emoji=False, markup=False).print(grid)
