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


@dataclass(frozen=True)
class RunError:
    """Why a run could not be diagnosed: `input` (unreadable), `nothing` (no loss series),
    `internal` (a bug, on one run of a batch); the message names the file and the problem."""

    kind: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


@dataclass
class Diagnosis:
    """Everything known about one run after diagnosis (or why it could not be diagnosed)."""

    path: str  # the log that was read (or the run's path when it could not be read)
    format: str | None = None
    metrics: dict[str, str] = field(default_factory=dict)
    points: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: RunError | None = None
    curves: dict[str, Any] = field(default_factory=dict, repr=False)
    name: str = ""  # the run as its user knows it (`lightning_logs/version_1`, `exp/run name`)
    run: str = ""  # the run as discovered: its folder, its file, or `mlflow.db#<run id>`
    layout: str = ""  # what discovery found it as (a run folder of a format, a log file, a store)
    pairs: list[dict[str, Any]] = field(default_factory=list)  # every train/val pair judged

    @property
    def worst(self) -> Severity | None:
        """The highest severity among the findings, or None for a clean run."""
        return max((f.severity for f in self.findings), default=None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one run (version 1 of the output schema)."""
        return {
            "run": self.run or self.path,
            "path": self.path,
            "name": self.name or self.path,
            "layout": self.layout,
            "format": self.format,
            "metrics": dict(self.metrics),
            "pairs": list(self.pairs),
            "points": self.points,
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
            "error": self.error.to_dict() if self.error else None,
        }
