"""The report a person reads: one layout, drawn as rich (colour) or as plain text.

The layout is built once as lines of (text, style) segments; `render_plain` drops the
styles, `render_rich` hands them to rich. So both formats always say the same thing.
"""

from __future__ import annotations

from typing import TextIO

from ..findings import Diagnosis, Finding, Severity
from ..frame import Series
from ..engine.template import format_step, format_value
from .sparkline import marker_line, sparkline, wants_log, x_range

Segment = tuple[str, str]
Line = list[Segment]
STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "cyan"}
WIDTH = 48


def layout(diag: Diagnosis) -> list[Line]:
    """Every line of one run's report."""
    head = diag.name or diag.path
    lines: list[Line] = [[(f"── {head} ", "bold")] + ([(f" {diag.path}", "dim")] if diag.path != head else [])]
    if diag.error:
        return lines + [[("cannot diagnose: ", "bold red"), (diag.error.message, "")]]
    roles = " · ".join(f"{r} = {n}" for r, n in diag.metrics.items())
    lines.append([(f"{diag.format} · {diag.points:,} points · {roles}", "dim")])
    lines.append(_verdict(diag))
    lines += _curves(diag)
    for f in diag.findings:
        lines += _finding(f)
    if diag.notes:
        lines.append([("notes:", "dim")])
        lines += [[(f"  - {n}", "dim")] for n in diag.notes]
    return lines


def _verdict(diag: Diagnosis) -> Line:
    counts = {s: sum(f.severity == s for f in diag.findings) for s in Severity}
    worst = diag.worst
    if worst is None or worst == Severity.INFO:
        head = ("verdict: healthy", "bold green")
    else:
        head = (f"verdict: {worst.label.upper()}", STYLE[worst])
    parts = [f"{n} {s.label}{'s' if n != 1 else ''}" for s, n in sorted(counts.items(), reverse=True) if n]
    return [head, ("  " + (" · ".join(parts) or "no findings"), "")]


def _curves(diag: Diagnosis) -> list[Line]:
    lines: list[Line] = []
    drawn = {r: s for r, s in diag.curves.items() if len(s)}
    xr = x_range(*drawn.values()) if drawn else None
    for role, series in drawn.items():
        log = wants_log(series)
        spark = sparkline(series, WIDTH, log=log, xr=xr)
        lines.append([(f"  {role:<11}", "bold"), (spark, "green"), (_range(series, log), "dim")])
        for f in diag.findings:
            if f.metric == series.name and f.step is not None and f.severity > Severity.INFO:
                pad = " " * 13
                mark = marker_line(series, f.step, WIDTH, xr)
                lines.append([(pad + mark, STYLE[f.severity]),
                              (f" {f.rule} @ {format_step(f.step)}", STYLE[f.severity])])
    return lines


def _range(series: Series, log: bool) -> str:
    v = series.values
    first, last = format_value(float(v[0])), format_value(float(v[-1]))
    return f"  {first} → {last}" + ("  (log scale)" if log else "")


def _finding(f: Finding) -> list[Line]:
    where = ", ".join(x for x in (f.metric, f"step {format_step(f.step)}" if f.step is not None else None) if x)
    lines: list[Line] = [[],
                         [(f"{f.severity.label.upper():<8}", STYLE[f.severity]), (f"{f.rule}", "bold"),
                          (f"  {f.title}", ""), (f"  ({where})" if where else "", "dim")],
                         [(f"  {f.message}", "")]]
    if f.remedies:
        lines.append([("  What to do:", "bold")])
        lines += [[(f"    • {r}", "")] for r in f.remedies]
    lines.append([(f"  (more: lossdoctor rules show {f.rule})", "dim")])
    return lines


def render_plain(diagnoses: list[Diagnosis], out: TextIO) -> None:
    """Plain text, for pipes and logs."""
    for i, diag in enumerate(diagnoses):
        if i:
            out.write("\n")
        for line in layout(diag):
            out.write("".join(text for text, _ in line).rstrip() + "\n")


def render_rich(diagnoses: list[Diagnosis], out: TextIO) -> None:
    """Colour, for a terminal."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, highlight=False, soft_wrap=False)
    for i, diag in enumerate(diagnoses):
        if i:
            console.print()
        for line in layout(diag):
            console.print(Text.assemble(*line) if line else "")
