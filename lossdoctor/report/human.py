"""The report a person reads: one layout, drawn as rich (colour) or as plain text.

The layout is built once as lines of (text, style) segments; `render_plain` drops the
styles, `render_rich` hands them to rich as `Text` (never as markup, so `[bold]` in a
metric name is shown, not obeyed). Every piece of data goes through escape.text. So both
formats always say the same thing, and neither can be steered by the log.
"""

from __future__ import annotations

import os
from typing import TextIO

from .. import numfmt
from ..findings import Diagnosis, Severity
from ..frame import Series
from . import early, escape, large_run, phrases
from .stories import Story, stories
from .options import DEFAULT_OPTIONS, RenderOptions
from .sparkline import marker_line, sparkline, wants_log, x_range

Segment = tuple[str, str]
Line = list[Segment]
STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "cyan"}
WIDTH = 48
DRAWN = ("train_loss", "val_loss")  # the curves drawn as sparklines (lr is in the picture)


def layout(diag: Diagnosis, options: RenderOptions = DEFAULT_OPTIONS) -> list[Line]:
    """Every line of one run's report."""
    esc = escape.text
    head = diag.name or options.rel(diag.path)
    lines: list[Line] = [[(f"── {esc(head)} ", "bold")] + (
        [(f" {esc(options.rel(diag.path))}", "dim")] if diag.name and diag.name != diag.path else [])]
    if diag.error:
        return lines + [[("cannot diagnose: ", "bold red"), (esc(diag.error.message), "")]]
    lines.append([(phrases.run_facts(diag, esc), "dim")])
    lines.append(_verdict(diag))
    told = stories(diag)
    if options.verbosity < 0:
        return lines + [_one_line(t) for t in told]
    lines += _curves(diag)
    for story in told:
        lines += story_lines(story, options.verbosity)
    lines += _early_stopping(diag)
    lines += _large_run(diag, options.verbosity)
    if diag.notes:
        lines.append([("notes:", "dim")])
        lines += [[(f"  - {esc(n)}", "dim")] for n in diag.notes]
    if options.image:
        lines.append([(f"picture: {esc(options.image)}", "dim")])
    return lines


def _verdict(diag: Diagnosis) -> Line:
    word = phrases.verdict_word(diag)
    short = phrases.too_short(diag)
    style = "bold green" if word == "healthy" else "bold" if short else STYLE[diag.worst]
    head = short or phrases.headline(diag)
    return [(f"verdict: {word}", style), (f" — {head}" if head else "", style),
            ("  " + phrases.counts(diag), "")]


def _one_line(story: Story) -> Line:
    v = phrases.story_view(story)
    return [(f"{v.severity.label.upper():<8}", STYLE[v.severity]), (v.rule, "bold"), (f"  {v.title}", ""),
            (f"  ({v.where})" if v.where else "", "dim")]


def _curves(diag: Diagnosis) -> list[Line]:
    lines: list[Line] = []
    drawn = {r: diag.curves[r] for r in DRAWN if r in diag.curves and len(diag.curves[r])}
    xr = x_range(*drawn.values()) if drawn else None
    for role, series in drawn.items():
        log = wants_log(series)
        spark = sparkline(series, WIDTH, log=log, xr=xr)
        lines.append([(f"  {role:<11}", "bold"), (spark, "green"), (_range(series, log), "dim")])
        for f in diag.findings:
            if f.metric == series.name and f.step is not None and f.severity > Severity.INFO:
                mark = marker_line(series, f.step, WIDTH, xr)
                lines.append([(" " * 13 + mark, STYLE[f.severity]),
                              (f" {escape.text(f.rule)} @ {numfmt.step(f.step)}", STYLE[f.severity])])
    return lines


def _range(series: Series, log: bool) -> str:
    """First and last logged values (as logged: the rules judge smoothed curves)."""
    v = series.values
    first, last = numfmt.value(float(v[0])), numfmt.value(float(v[-1]))
    return f"  {first} → {last} (logged)" + ("  (log scale)" if log else "")


def story_lines(story: Story, verbosity: int = 0) -> list[Line]:
    """One story: heading, the lead's message, the timeline of the event across series,
    remedies (the first few unless -v), the "more" hint."""
    v = phrases.story_view(story, escape.text, verbosity)
    lines: list[Line] = [[],
                         [(f"{v.severity.label.upper():<8}", STYLE[v.severity]), (v.rule, "bold"),
                          (f"  {v.title}", ""), (f"  ({v.where})" if v.where else "", "dim")],
                         [(f"  {v.message}", "")]]
    if v.same_in:
        lines.append([("  The same in: ", "bold"), (v.same_in, "")])
    if v.timeline:
        lines.append([("  Timeline:", "bold")])
        lines += [[(f"    {t}", "")] for t in v.timeline]
        if v.hidden_timeline:
            lines.append([(f"    {phrases.hidden_timeline(v.hidden_timeline)}", "dim")])
    if v.remedies:
        lines.append([("  What to do:", "bold")])
        lines += [[(f"    • {r}", "")] for r in v.remedies]
        if v.hidden:
            lines.append([(f"    {phrases.hidden_remedies(v.hidden)}", "dim")])
    f = story.lead
    if verbosity > 0 and f.evidence:
        # Values are data too: an accuracy_metric is a column's name.
        shown = ", ".join(f"{escape.text(k)}={escape.text(numfmt.value(x))}" for k, x in f.evidence.items())
        lines.append([(f"  evidence: {shown}", "dim")])
    lines.append([(f"  ({v.more})", "dim")])
    return lines


def _early_stopping(diag: Diagnosis) -> list[Line]:
    es = early.replay(diag)
    if es is None:
        return []
    return [[], [(early.heading(es, early.axis(diag)), "bold")]] + [[(f"  {line}", "")] for line in early.lines(es, early.axis(diag))]


def _large_run(diag: Diagnosis, verbosity: int) -> list[Line]:
    said = large_run.lines(diag, verbosity)
    if not said:
        return []
    return [[], [(large_run.HEADING, "bold")]] + [[(f"  {escape.text(x)}", "")] for x in said]


def render_plain(diagnoses: list[Diagnosis], out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """Plain text, for pipes and logs."""
    for i, diag in enumerate(diagnoses):
        if i:
            out.write("\n")
        for line in layout(diag, options):
            out.write("".join(text for text, _ in line).rstrip() + "\n")


def render_rich(diagnoses: list[Diagnosis], out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """Colour, for a terminal (--no-color or NO_COLOR: the same text without colour)."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, highlight=False, soft_wrap=False, emoji=False, markup=False,
                      no_color=not wants_color(options), force_terminal=options.color or None)
    for i, diag in enumerate(diagnoses):
        if i:
            console.print()
        for line in layout(diag, options):
            console.print(Text.assemble(*line) if line else "")


def wants_color(options: RenderOptions) -> bool:
    """--color / --no-color win; otherwise colour unless NO_COLOR is set (no-color.org)."""
    if options.color is not None:
        return options.color
    return not os.environ.get("NO_COLOR")
