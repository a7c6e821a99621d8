"""The records that flow out of the engine: severities, findings, and a run's diagnosis."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    """How bad a finding is; `--fail-on` compares against this order."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, text: str) -> "Severity":
        """`'warning'` -> Severity.WARNING; ValueError for anything else."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (expected info, warning or error)") from None

    @property
    def label(self) -> str:
        """Lower-case name, as written in rule files and JSON."""
        return self.name.lower()


@dataclass(frozen=True, order=True)
class Finding:
    """One rule that fired on one metric of one run, with the numbers that made it fire.

    Ordered worst first (negated severity), then by step, so sorted() gives report order.
    """

    sort_key: tuple[int, float] = field(repr=False, compare=True)
    rule: str = field(compare=False)
    severity: Severity = field(compare=False)
    title: str = field(compare=False)
    message: str = field(compare=False)
    metric: str | None = field(compare=False)
    step: float | None = field(compare=False)
    end_step: float | None = field(compare=False)
    evidence: dict[str, Any] = field(compare=False, default_factory=dict)
    remedies: tuple[str, ...] = field(compare=False, default=())
    knowledge: tuple[str, ...] = field(compare=False, default=())

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a finding (version 1 of the output schema)."""
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "title": self.title,
            "message": self.message,
            "metric": self.metric,
            "step": _plain(self.step),
            "end_step": _plain(self.end_step),
            "evidence": {k: _plain(v) for k, v in self.evidence.items()},
            "remedies": list(self.remedies),
            "knowledge": list(self.knowledge),
        }


def _plain(value: Any) -> Any:
    """JSON-safe number: whole floats as int, NaN/Inf as strings (JSON has no NaN)."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


@dataclass
class Diagnosis:
    """Everything known about one run after diagnosis (or why it could not be diagnosed)."""

    path: str
    format: str | None = None
    metrics: dict[str, str] = field(default_factory=dict)
    points: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: dict[str, str] | None = None
    curves: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def worst(self) -> Severity | None:
        """The highest severity among the findings, or None for a clean run."""
        return max((f.severity for f in self.findings), default=None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one run (version 1 of the output schema)."""
        return {
            "path": self.path,
            "format": self.format,
            "metrics": dict(self.metrics),
            "points": self.points,
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
            "error": self.error,
        }
