"""Which findings are new and which resolved between two judgements of a growing run.

A finding is known by its rule and metric: the same rule on the same series is the same
problem even as its step and numbers move while data arrives. It is reported once, when
it first appears, and again when it grows worse (a rule's milder reading, overfitting that
has begun, becoming its full one: the warning a gate waits for must not pass unseen); when a
later judgement no longer has it (a spike that the rule now reads as noise, a plateau the
run left), it is reported as resolved, and a return later is a new appearance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..findings import Finding

Key = tuple[str, "str | None"]


def key_of(finding: Finding) -> Key:
    """What makes two findings of successive judgements the same problem."""
    return finding.rule, finding.metric


@dataclass
class Changes:
    """What one judgement changed: findings that appeared, findings that went away."""

    new: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)  # as last seen before they went

    def __bool__(self) -> bool:
        return bool(self.new or self.resolved)


class Tracker:
    """The findings standing after the last judgement of one run."""

    def __init__(self) -> None:
        self.current: dict[Key, Finding] = {}

    def update(self, findings: list[Finding]) -> Changes:
        """Take a new judgement's findings; return what appeared and what resolved."""
        now = {key_of(f): f for f in findings}
        changes = Changes(new=[f for k, f in now.items()
                               if k not in self.current or f.severity > self.current[k].severity],
                          resolved=[f for k, f in self.current.items() if k not in now])
        self.current = now
        return changes
