"""The words every renderer shares: where a finding is, the counts, the verdict, the
"more" hint, and one view of a finding that every format draws.

Each phrase takes the escape function of the medium it is written to (escape.text for a
terminal, escape.markdown for Markdown, ...), applied to the data inside it and never to
the words around it. `finding_view` is the one place a finding becomes text, so when a
finding grows (a timeline of one event across series) every format grows with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import numfmt
from ..findings import Diagnosis, Finding, Severity
from . import escape

Esc = Callable[[object], str]
REMEDIES_SHOWN = 5  # remedies listed per finding unless -v asks for all


def where(f: Finding, esc: Esc = escape.text) -> str:
    """`train_loss, step 499` (either part may be missing)."""
    parts = [esc(f.metric)] if f.metric else []
    if f.step is not None:
        parts.append(f"step {numfmt.step(f.step)}")
    return ", ".join(parts)


def counts(diag: Diagnosis, sep: str = " · ") -> str:
    """`5 errors · 1 info`, worst first, or `no findings`."""
    parts = [numfmt.plural(n, s.label) for s in sorted(Severity, reverse=True)
             if (n := sum(f.severity == s for f in diag.findings))]
    return sep.join(parts) or "no findings"


def verdict_word(diag: Diagnosis) -> str:
    """`healthy`, or the worst severity in capitals (`ERROR`), or why it was not diagnosed."""
    if diag.error:
        return "cannot diagnose"
    worst = diag.worst
    return "healthy" if worst is None or worst == Severity.INFO else worst.label.upper()


def run_facts(diag: Diagnosis, esc: Esc = escape.text) -> str:
    """`lightning_csv · 1,310 points · train_loss = mean_loss · lr = lr-Adam`."""
    roles = " · ".join(f"{r} = {esc(n)}" for r, n in diag.metrics.items())
    return " · ".join(x for x in (esc(diag.format or ""), numfmt.plural(diag.points, "point"), roles) if x)


def more_hint(f: Finding, esc: Esc = escape.text) -> str:
    """Where to read more: the rule, and the knowledge-base entries its remedies cite."""
    hint = f"more: lossdoctor rules show {esc(f.rule)}"
    if f.knowledge:
        hint += f" · lossdoctor explain {' '.join(esc(k) for k in f.knowledge)}"
    return hint


def hidden_remedies(n: int) -> str:
    """The line that says some remedies were left out."""
    return f"… {numfmt.plural(n, 'more remedy', 'more remedies')} (-v shows all)"


@dataclass(frozen=True)
class FindingView:
    """A finding as text for one medium: every piece of data in it already escaped."""

    severity: Severity
    rule: str
    title: str
    where: str
    message: str
    remedies: tuple[str, ...]
    hidden: int  # remedies left out (see REMEDIES_SHOWN)
    more: str


def finding_view(f: Finding, esc: Esc = escape.text, verbosity: int = 0) -> FindingView:
    """The one rendering of a finding that every format draws."""
    limit = None if verbosity > 0 else REMEDIES_SHOWN
    shown = f.remedies if limit is None else f.remedies[:limit]
    return FindingView(f.severity, esc(f.rule), esc(f.title), where(f, esc), esc(f.message),
                       tuple(esc(r) for r in shown), len(f.remedies) - len(shown), more_hint(f, esc))
