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
          "warning": "yellow", "info": "cyan", "ok": "green"}
GIVE_WAY = ("format", "final_val_loss", "best_val_step", "points", "best_val_loss")  # dropped first to last
MIN_FINDINGS, MIN_RUN = 16, 20  # shortest a shortened findings list / run path gets
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
    findings = d.error["message"] if d.error else ", ".join(rule_ids(row))
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
    total = lambda: sum(widths[c] for c in columns) + gap * (len(columns) - 1)  # noqa: E731
    for column in GIVE_WAY:
        if width is None or total() <= width:
            break
        columns.remove(column)
    for column, least, cut in (("findings", MIN_FINDINGS, _cut_end), ("run", MIN_RUN, _cut_start)):
        if width is not None and total() > width:
            widths[column] = max(least, widths[column] - (total() - width))
            table = [{**line, column: cut(line[column], widths[column])} for line in table]
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
    grid = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, padding=(0, GAP // 2))
    for column in columns:
        grid.add_column(table[0][column], justify="right" if column in _NUMERIC else "left", no_wrap=True)
    for row, line in zip(report.rows, table[1:]):
        grid.add_row(*(Text(line[c], style=_STYLE.get(row.verdict, "") if c == "verdict" else "") for c in columns))
    Console(file=out, force_terminal=True, soft_wrap=False, no_color=not wants_color(options),
            width=options.width or 10_000, highlight=False, emoji=False, markup=False).print(grid)
