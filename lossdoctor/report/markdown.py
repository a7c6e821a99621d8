"""Markdown: a report to paste into a pull-request comment or `$GITHUB_STEP_SUMMARY`.

Per run: a heading, the verdict against the gate, a table of findings, then each
finding's remedies. Table cells are escaped (`|`, newlines) so a message cannot break the row.
"""

from __future__ import annotations

from typing import TextIO

from ..findings import Diagnosis, Finding, Severity
from ..engine.template import format_step
from .options import DEFAULT_OPTIONS, RenderOptions

ICON = {Severity.ERROR: "🔴", Severity.WARNING: "🟡", Severity.INFO: "🔵"}
HEADER = "| severity | rule | finding | metric | step |\n|---|---|---|---|---|\n"


def cell(text: object) -> str:
    """Text safe inside a table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _row(f: Finding) -> str:
    step = format_step(f.step) if f.step is not None else ""
    return (f"| {ICON[f.severity]} {f.severity.label} | `{f.rule}` | {cell(f.title)} "
            f"| {cell(f.metric or '')} | {step} |\n")


def _verdict(diag: Diagnosis, options: RenderOptions) -> str:
    if diag.error:
        return f"**cannot diagnose** ({diag.error.kind}): {diag.error.message}"
    gate = "❌ fails" if options.fails(diag) else "✅ passes"
    counts = [f"{n} {s.label}{'s' if n != 1 else ''}" for s in sorted(Severity, reverse=True)
              if (n := sum(f.severity == s for f in diag.findings))]
    return f"{gate} the gate (`--fail-on {options.gate_label}`) · {', '.join(counts) or 'no findings'}"


def _details(f: Finding) -> str:
    text = f"#### `{f.rule}` — {f.title}\n\n{f.message}\n\n"
    if f.remedies:
        text += "**What to do:**\n\n" + "".join(f"- {r}\n" for r in f.remedies) + "\n"
    return text + f"<sub>more: `lossdoctor rules show {f.rule}`</sub>\n\n"


def render_markdown(diagnoses: list[Diagnosis], out: TextIO,
                    options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """One section per run."""
    out.write("## lossdoctor report\n\n")
    for diag in diagnoses:
        out.write(f"### `{options.rel(diag.path)}`\n\n")
        if not diag.error:
            roles = ", ".join(f"{r} = `{n}`" for r, n in diag.metrics.items())
            out.write(f"{diag.format} · {diag.points:,} points · {roles}\n\n")
        out.write(_verdict(diag, options) + "\n\n")
        if diag.findings:
            out.write(HEADER + "".join(_row(f) for f in diag.findings) + "\n")
            out.write("".join(_details(f) for f in diag.findings))
