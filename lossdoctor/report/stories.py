"""Findings told as stories: what one event did across the run's series is one story.

The engine judges every series on its own, so one NaN in a model with five loss terms is
five `nan_loss` findings, and a blow-up that ends in NaN is a `divergence` and a
`nan_loss`. A person reads one event: the story leads with the earliest finding (the run's
main series first on a tie), lists the rest as its timeline, and gives the remedies once.
The findings themselves are untouched (JSON, the gate and JUnit see each of them).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..findings import Diagnosis, Finding, Severity

# A NaN that follows a climb is where that climb ended: one story, told from the climb.
ENDS_IN = {"nan_loss": "divergence"}


@dataclass(frozen=True)
class Story:
    """One event: the finding that tells it and the same event elsewhere or later."""

    lead: Finding
    also: tuple[Finding, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        return (self.lead, *self.also)

    @property
    def severity(self) -> Severity:
        return max(f.severity for f in self.findings)

    @property
    def rules(self) -> tuple[str, ...]:
        """The rule ids in the story, the lead's first."""
        return tuple(dict.fromkeys(f.rule for f in self.findings))

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.metric for f in self.findings if f.metric))

    @property
    def remedies(self) -> tuple[str, ...]:
        """Every remedy once, the lead's first (they are its rule's, most specific first)."""
        return tuple(dict.fromkeys(r for f in self.findings for r in f.remedies))

    @property
    def knowledge(self) -> tuple[str, ...]:
        return tuple(sorted({k for f in self.findings for k in f.knowledge}, key=_pid))

    @property
    def timeline(self) -> tuple["Entry", ...]:
        """The event in step order, one entry per rule and step: the series where it happened
        at the same step are one entry (empty for a story of one finding)."""
        if not self.also:
            return ()
        entries: dict[tuple[str, float], list[Finding]] = {}
        for f in sorted(self.findings, key=_at):
            entries.setdefault((f.rule, _at(f)), []).append(f)
        return tuple(Entry(fs[0].summary, tuple(f.metric for f in fs[1:] if f.metric))
                     for fs in entries.values())


@dataclass(frozen=True)
class Entry:
    """One step of a story: its first finding in a few words, and the other series where the
    same happened at that step."""

    summary: str
    also: tuple[str, ...] = ()


def stories(diag: Diagnosis) -> list[Story]:
    """The run's findings as stories, worst first, then by step."""
    main = set(diag.metrics.values())
    groups: dict[str, list[Finding]] = {}
    for f in diag.findings:
        groups.setdefault(f.rule, []).append(f)
    for rule, into in ENDS_IN.items():
        if rule in groups and into in groups and _at(_lead(groups[into], main)) <= _at(_lead(groups[rule], main)):
            groups[into] += groups.pop(rule)
    out = []
    for fs in groups.values():
        lead = _lead([f for f in fs if f.rule == fs[0].rule], main)
        out.append(Story(lead, tuple(sorted((f for f in fs if f is not lead), key=_at))))
    return sorted(out, key=lambda s: (-int(s.severity), _at(s.lead)))


def _lead(fs: list[Finding], main: set[str]) -> Finding:
    """The earliest finding; on a tie, the one on a series the run's roles were read from."""
    return min(fs, key=lambda f: (_at(f), f.metric not in main))


def _at(f: Finding) -> float:
    return f.step if f.step is not None else float("inf")


def _pid(k: str) -> tuple[int, str]:
    """P2 before P13: knowledge-base ids by number."""
    digits = "".join(c for c in k if c.isascii() and c.isdigit())  # a rule file's id may hold '¹'
    return (int(digits) if digits else 0, k)
