"""The records that flow out of the engine: severities, findings, and a run's diagnosis."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .numfmt import json_number, json_step


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
    # The finding in a few words ("val_loss is NaN/Inf from step 417"): one entry of a story's
    # timeline when the same event shows in several series.
    summary: str = field(compare=False, default="")
    axis: str = field(compare=False, default="step")  # what `step` counts: step, epoch or row

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a finding (version 1 of the output schema)."""
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "title": self.title,
            "message": self.message,
            "summary": self.summary,
            "metric": self.metric,
            "step": json_step(self.step),
            "end_step": json_step(self.end_step),
            "axis": self.axis,
            "evidence": {k: json_step(v) if k.endswith("step") else json_number(v)
                         for k, v in self.evidence.items()},
            "remedies": list(self.remedies),
            "knowledge": list(self.knowledge),
        }


def _plain(value: Any) -> Any:
    """JSON-safe number (kept for callers of the old name): see numfmt.json_number."""
    return json_number(value)


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
    seconds: float | None = None  # wall time of reading and judging the run (JUnit `time`)
    stability: Any = field(default=None, repr=False)  # stability.Stability: spike score, bursts, skips
    rewind: Any = field(default=None, repr=False)  # rewind.Plan: where to restart from, what to skip
    # The longest loss curve and its readable points, when none has the points a course is read
    # from (engine.curves.shape.MIN_POINTS): no trend, fit or plateau reading was possible.
    short: tuple[str, int] | None = None

    @property
    def worst(self) -> Severity | None:
        """The highest severity among the findings, or None for a clean run."""
        return max((f.severity for f in self.findings), default=None)

    @property
    def spike_score(self) -> float | None:
        """The run's spike score (OLMo's SpikeScore (total): the share of logged steps where the
        loss or the gradient norm spiked), None before 128 points or for an unread run."""
        return None if self.stability is None else self.stability.run_score

    def spike_score_exceeds(self, limit: float | None) -> bool:
        """True when `--max-spike-score limit` fails this run."""
        score = self.spike_score
        return limit is not None and score is not None and score > limit

    @property
    def verdict(self) -> str:
        """The worst severity, `ok`, `short` (nothing above info on a log too short to judge:
        no finding is then no sign of health), or why the run could not be diagnosed
        (`no-loss`, `unreadable`)."""
        if self.error:
            return "no-loss" if self.error.kind in ("nothing", "usage") else "unreadable"
        if self.short is not None and (self.worst is None or self.worst == Severity.INFO):
            return "short"
        return self.worst.label if self.worst else "ok"

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
            "verdict": self.verdict,
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
            "error": self.error.to_dict() if self.error else None,
            **self._large_run(),
        }

    def _large_run(self) -> dict[str, Any]:
        """The large-run readings, for a run that was diagnosed."""
        if self.stability is None:
            return {}
        from .stability import tidy  # the records stay importable without numpy's readers

        return {"spike_score": self.stability.spike_dict(), "instability": self.stability.to_dict(),
                "rewind_plan": None if self.rewind is None else tidy(self.rewind.to_dict())}


# Verdicts, worst first: the audit's `--sort verdict` order.
# A run too short to judge ranks above info and ok: it was not looked at, only read.
VERDICT_RANK = {"unreadable": 6, "no-loss": 5, "error": 4, "warning": 3, "short": 2, "info": 1, "ok": 0}


@dataclass(frozen=True)
class AuditRow:
    """One run of an audit: its diagnosis (without curves) and the numbers the table shows."""

    run: str  # the run as discovered (a folder, a file, `mlflow.db#<run_uuid>`)
    diagnosis: Diagnosis  # its `path` is the log the reader actually read
    layout: str
    best_val_step: float | None = None
    best_val_loss: float | None = None
    final_val_loss: float | None = None

    @property
    def path(self) -> str:
        return self.run

    @property
    def verdict(self) -> str:
        """The diagnosis' verdict."""
        return self.diagnosis.verdict

    def to_dict(self) -> dict[str, Any]:
        """Diagnosis.to_dict() plus the audit columns (JSON-safe numbers)."""
        return {"run": self.run, **self.diagnosis.to_dict(), "layout": self.layout,
                "best_val_step": json_step(self.best_val_step), "best_val_loss": json_number(self.best_val_loss),
                "final_val_loss": json_number(self.final_val_loss)}


@dataclass(frozen=True)
class AuditReport:
    """What an audit renderer draws: the rows shown, the counts over every run found, and
    every path discovery left out ({path, reason, detail}: the user sees what vanished)."""

    rows: list[AuditRow]
    summary: dict[str, Any]
    skipped: list[dict[str, str]] = field(default_factory=list)
