"""Markdown: a report to paste into a pull-request comment or `$GITHUB_STEP_SUMMARY`.

Per run: a heading, the verdict against the gate, a table of findings, then each
finding's remedies. Every piece of data is escaped (escape.markdown / markdown_code), so a
metric name cannot close its code span, open a link, start a heading or write raw HTML.
"""

from __future__ import annotations

from typing import TextIO

from .. import numfmt
from ..findings import Diagnosis, Severity
from . import early, escape, phrases
from .stories import Story, stories
from .options import DEFAULT_OPTIONS, RenderOptions

ICON = {Severity.ERROR: "🔴", Severity.WARNING: "🟡", Severity.INFO: "🔵"}
HEADER = "| severity | rule | finding | metric | step |\n|---|---|---|---|---|\n"


def cell(text: object) -> str:
    """Data safe inside a table cell (and anywhere else in Markdown)."""
    return escape.markdown(text)


def _row(story: Story) -> str:
    f = story.lead
    step = numfmt.step(f.step) if f.step is not None else ""
    metric = escape.markdown_code(f.metric, table=True) if f.metric else ""
    if len(story.metrics) > 1:
        metric += f" +{len(story.metrics) - 1}"
    rules = ", ".join(escape.markdown_code(r, table=True) for r in story.rules)
    return (f"| {ICON[story.severity]} {story.severity.label} | {rules} "
            f"| {cell(f.title)} | {metric} | {step} |\n")


def _verdict(diag: Diagnosis, options: RenderOptions) -> str:
    if diag.error:
        return f"**cannot diagnose** ({cell(diag.error.kind)}): {cell(diag.error.message)}"
    gate = "❌ fails" if options.fails(diag) else "✅ passes"
    short = phrases.too_short(diag, escape.markdown)
    return (f"{gate} the gate (`--fail-on {cell(options.gate_label)}`) · {phrases.counts(diag, ', ')}"
            + (f" · too short to judge: {short}" if short else ""))


def _details(story: Story, options: RenderOptions) -> str:
    v = phrases.story_view(story, escape.markdown, options.verbosity)
    rules = ", ".join(escape.markdown_code(r) for r in story.rules)
    text = f"#### {rules} — {v.title}\n\n{v.message}\n\n"
    if v.same_in:
        text += f"**The same in:** {v.same_in}\n\n"
    if v.timeline:
        text += "**Timeline:**\n\n" + "".join(f"- {t}\n" for t in v.timeline)
        text += (f"- *{phrases.hidden_timeline(v.hidden_timeline)}*\n" if v.hidden_timeline else "") + "\n"
    if v.remedies:
        text += "**What to do:**\n\n" + "".join(f"- {r}\n" for r in v.remedies)
        text += (f"- *{phrases.hidden_remedies(v.hidden)}*\n" if v.hidden else "") + "\n"
    more = phrases.more_hint(story, lambda x: escape.markdown_code(x))
    return text + f"<sub>{more}</sub>\n\n"


def _early(diag: Diagnosis) -> str:
    es = early.replay(diag)
    if es is None:
        return ""
    table = "| criterion | stops at | saves | gives up |\n|---|---|---|---|\n"
    table += "".join(f"| {' | '.join(row)} |\n" for row in early.rows(es, early.axis(diag)))
    return f"**{early.heading(es, early.axis(diag))}**\n\n{table}\n"


def render_markdown(diagnoses: list[Diagnosis], out: TextIO,
                    options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """One section per run."""
    out.write("## lossdoctor report\n\n")
    for diag in diagnoses:
        out.write(f"### {escape.markdown_code(options.rel(diag.path))}\n\n")
        if not diag.error:
            roles = ", ".join(f"{r} = {escape.markdown_code(n)}" for r, n in diag.metrics.items())
            facts = [cell(diag.format or ""), numfmt.plural(diag.points, "point"), roles]
            out.write(" · ".join(x for x in facts if x) + "\n\n")
        out.write(_verdict(diag, options) + "\n\n")
        if options.image and not diag.error:
            out.write(f"![training curves]({_url(options.image)})\n\n")
        if diag.findings:
            told = stories(diag)
            out.write(HEADER + "".join(_row(t) for t in told) + "\n")
            out.write("".join(_details(t, options) for t in told))
        out.write(_early(diag))


def _url(path: str) -> str:
    """A relative link to the picture: spaces and parentheses percent-encoded."""
    from urllib.parse import quote

    return quote(path.replace("\\", "/"), safe="/._-~")
