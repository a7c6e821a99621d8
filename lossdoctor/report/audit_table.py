"""The audit summary table: one row per run, as plain text or a rich table.

`COLUMNS` and `cells` are shared with the CSV and Markdown renderers, so every text
format shows the same columns with the same cell text.
"""

from __future__ import annotations

import math
from typing import Any, TextIO

from ..audit import AuditRow

COLUMNS = ("run", "format", "points", "verdict", "findings", "best_val_step", "best_val_loss", "final_val_loss")
_HEADERS = {"best_val_step": "best val step", "best_val_loss": "best val", "final_val_loss": "final val"}
_NUMERIC = {"points", "best_val_step", "best_val_loss", "final_val_loss"}
_STYLE = {"error": "bold red", "unreadable": "bold magenta", "no-loss": "magenta",
          "warning": "yellow", "info": "cyan", "ok": "green"}


def rule_ids(row: AuditRow) -> list[str]:
    """The rules that fired, each once, worst first (the findings' own order)."""
    return list(dict.fromkeys(f.rule for f in row.diagnosis.findings))


def cells(row: AuditRow) -> dict[str, str]:
    """The text of each column; an unreadable run shows its error in `findings`."""
    d = row.diagnosis
    findings = d.error.message if d.error else ", ".join(rule_ids(row))
    return {
        "run": row.run, "format": d.format or "", "points": str(d.points) if not d.error else "",
        "verdict": row.verdict, "findings": findings,
        "best_val_step": _number(row.best_val_step, "g"), "best_val_loss": _number(row.best_val_loss, ".4g"),
        "final_val_loss": _number(row.final_val_loss, ".4g"),
    }


def header(column: str) -> str:
    """Column title for humans."""
    return _HEADERS.get(column, column)


def _number(value: Any, spec: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if spec == "g" and float(value).is_integer():
        return str(int(value))
    return format(value, spec)


def render_plain(rows: list[AuditRow], out: TextIO) -> None:
    """Fixed-width text columns; the findings column goes last, unpadded (it can be long)."""
    order = [c for c in COLUMNS if c != "findings"] + ["findings"]
    table = [{c: header(c) for c in COLUMNS}] + [cells(r) for r in rows]
    widths = {c: max(len(line[c]) for line in table) for c in order[:-1]}
    for line in table:
        parts = [line[c].rjust(widths[c]) if c in _NUMERIC else line[c].ljust(widths[c]) for c in order[:-1]]
        out.write("  ".join(parts + [line["findings"]]).rstrip() + "\n")


def render_rich(rows: list[AuditRow], out: TextIO) -> None:
    """A rich table, verdicts coloured."""
    from rich.console import Console  # imported here: `diagnose` must not pay for rich
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for column in COLUMNS:
        table.add_column(header(column), justify="right" if column in _NUMERIC else "left",
                         overflow="fold", no_wrap=column != "findings")
    for row in rows:
        text = cells(row)
        text["verdict"] = f"[{_STYLE.get(row.verdict, '')}]{row.verdict}[/]"
        table.add_row(*(text[c] if c == "verdict" else _escape(text[c]) for c in COLUMNS))
    Console(file=out, force_terminal=True, soft_wrap=False).print(table)


def _escape(text: str) -> str:
    """Paths and messages may hold `[`: keep rich from reading them as markup."""
    from rich.markup import escape

    return escape(text)
