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
from ..engine.curves.shape import MIN_POINTS
from ..findings import Diagnosis, Finding, Severity
from . import escape
from .stories import Story, stories

Esc = Callable[[object], str]
REMEDIES_SHOWN = 5  # remedies listed per story unless -v asks for all
TIMELINE_SHOWN = 4  # entries of a story's timeline unless -v asks for all
NAMES_SHOWN = 4  # series named in one entry ("also in a, b, c, d and 3 more") unless -v


def where(f: Finding, esc: Esc = escape.text) -> str:
    """`train_loss, step 499` (either part may be missing)."""
    parts = [esc(f.metric)] if f.metric else []
    if f.step is not None:
        parts.append(f"{f.axis} {numfmt.step(f.step)}")
    return ", ".join(parts)


def story_where(story: Story, esc: Esc = escape.text) -> str:
    """`train_loss, step 499`, or `5 series, from step 218` for an event seen in several."""
    if len(story.metrics) <= 1:
        return where(story.lead, esc)
    at = f", from {story.lead.axis} {numfmt.step(story.lead.step)}" if story.lead.step is not None else ""
    return f"{numfmt.plural(len(story.metrics), 'series', 'series')}{at}"


def counts(diag: Diagnosis, sep: str = " · ") -> str:
    """`1 error · 1 info` (stories, worst first), or `no findings`."""
    told = stories(diag)
    parts = [numfmt.plural(n, s.label) for s in sorted(Severity, reverse=True)
             if (n := sum(t.severity == s for t in told))]
    return sep.join(parts) or "no findings"


def headline(diag: Diagnosis, esc: Esc = escape.text) -> str:
    """The primary problem in words: the worst story's lead, in a few words (`` when healthy)."""
    told = [t for t in stories(diag) if t.severity > Severity.INFO]
    if not told:
        return ""
    lead = told[0]
    more = len(lead.metrics) - 1
    return esc(lead.lead.summary) + (f" (and in {numfmt.plural(more, 'more series', 'more series')})" if more > 0 else "")


def verdict_word(diag: Diagnosis) -> str:
    """`healthy`, or the worst severity in capitals (`ERROR`), or why it was not diagnosed, or
    `too short to judge` (see too_short)."""
    if diag.error:
        return "cannot diagnose"
    worst = diag.worst
    if worst is None or worst == Severity.INFO:
        return "too short to judge" if too_short(diag) else "healthy"
    return worst.label.upper()


def too_short(diag: Diagnosis, esc: Esc = escape.text) -> str | None:
    """Why a run with nothing above info is not called healthy (its verdict `short`): no loss
    curve has the points a course is read from (MIN_POINTS), so no trend, fit or plateau
    reading was possible. None otherwise."""
    if diag.verdict != "short" or diag.short is None:
        return None
    name, n = diag.short
    return f"{esc(name)} has {numfmt.plural(n, 'point')}; a course is read from {MIN_POINTS} or more"


def run_facts(diag: Diagnosis, esc: Esc = escape.text) -> str:
    """`lightning_csv · 1,310 points · train_loss = mean_loss · lr = lr-Adam`."""
    roles = " · ".join(f"{r} = {esc(n)}" for r, n in diag.metrics.items())
    return " · ".join(x for x in (esc(diag.format or ""), numfmt.plural(diag.points, "point"), roles) if x)


def more_hint(f: Finding | Story, esc: Esc = escape.text) -> str:
    """Where to read more: the rule(s), and the knowledge-base entries the remedies cite."""
    rules = f.rules if isinstance(f, Story) else (f.rule,)
    hint = f"more: lossdoctor rules show {' '.join(esc(r) for r in rules)}"
    if f.knowledge:
        hint += f" · lossdoctor explain {' '.join(esc(k) for k in f.knowledge)}"
    return hint


def hidden_timeline(n: int) -> str:
    """The line that says some timeline entries were left out."""
    return f"… {numfmt.plural(n, 'more', 'more')} (-v shows all)"


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
    timeline: tuple[str, ...] = ()  # the event in step order (a story of several findings)
    hidden_timeline: int = 0  # timeline entries left out (see TIMELINE_SHOWN)
    same_in: str = ""  # a story of one step in several series: the other series, named


def finding_view(f: Finding, esc: Esc = escape.text, verbosity: int = 0) -> FindingView:
    """The one rendering of a finding that every format draws."""
    limit = None if verbosity > 0 else REMEDIES_SHOWN
    shown = f.remedies if limit is None else f.remedies[:limit]
    return FindingView(f.severity, esc(f.rule), esc(f.title), where(f, esc), esc(f.message),
                       tuple(esc(r) for r in shown), len(f.remedies) - len(shown), more_hint(f, esc))


def story_view(story: Story, esc: Esc = escape.text, verbosity: int = 0) -> FindingView:
    """A story drawn as its lead finding with the story's timeline, remedies and hint. An event
    that hit several series at one step reads "the same in a, b, c"; one that unfolded over
    several steps (or rules) has a timeline."""
    f = story.lead
    full = verbosity > 0
    remedies = story.remedies if full else story.remedies[:REMEDIES_SHOWN]
    entries = story.timeline
    same_in = ""
    if len(entries) == 1:
        same_in, entries = _names(entries[0].also, esc, full), ()
    shown = entries if full else entries[:TIMELINE_SHOWN]
    timeline = tuple(esc(e.summary) + (f" (also {_names(e.also, esc, full)})" if e.also else "") for e in shown)
    rule = ", ".join(esc(r) for r in story.rules)
    return FindingView(story.severity, rule, esc(f.title), story_where(story, esc), esc(f.message),
                       tuple(esc(r) for r in remedies), len(story.remedies) - len(remedies),
                       more_hint(story, esc), timeline, len(entries) - len(shown), same_in)


def _names(names: tuple[str, ...], esc: Esc, full: bool) -> str:
    """`a, b, c, d and 3 more` (all of them with -v)."""
    shown = names if full or len(names) <= NAMES_SHOWN + 1 else names[:NAMES_SHOWN]
    text = ", ".join(esc(n) for n in shown)
    return text + (f" and {len(names) - len(shown)} more" if len(names) > len(shown) else "")
