"""What a renderer may need besides the findings: the gate, the rules that ran, a path root.

Passed explicitly (a small frozen value) so no renderer reads global state or options.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from .. import __version__
from ..findings import Diagnosis, Finding, Severity


def _error_gate(finding: Finding) -> bool:
    return finding.severity >= Severity.ERROR


@dataclass(frozen=True)
class RenderOptions:
    """The --fail-on gate, the rules that ran / were ignored, where paths are relative to, and
    how much to say."""

    gate: Callable[[Finding], bool] = _error_gate  # True when this finding fails the run
    gate_label: str = "error"  # the --fail-on value, as said in reports
    rules: tuple[str, ...] = ()  # ids of the rules that ran, in order (junit: one test case each)
    ignored: frozenset[str] = frozenset()
    root: str | None = None  # make absolute run paths relative to this folder (annotations)
    verbosity: int = 0  # -q: -1 (a line per finding), 0: the report, -v: 1 (every remedy, evidence)
    color: bool | None = None  # --color / --no-color; None: colour on a terminal unless NO_COLOR
    image: str | None = None  # a picture of the curves written beside the report (--plot)
    version: str = __version__  # the tool's version, for machine formats
    width: int | None = None  # the terminal's width, when the table must fit one
    max_spike_score: float | None = None  # --max-spike-score: a run above it fails the gate

    def fails(self, diag: Diagnosis) -> bool:
        """True when a finding of this run fails the gate, or its spike score is too high."""
        return any(self.gate(f) for f in diag.findings) or diag.spike_score_exceeds(self.max_spike_score)

    def rel(self, path: str) -> str:
        """`path` relative to `root` when it lies under it, else unchanged, with / separators."""
        if self.root and os.path.isabs(path):
            rel = os.path.relpath(path, self.root)
            if not rel.startswith(".."):
                path = rel
        return path.replace(os.sep, "/")


DEFAULT_OPTIONS = RenderOptions()
