"""`lossdoctor diagnose`: diagnose each path, render one report, return the gate's exit code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from ..diagnose import Settings, diagnose_safely
from ..exitcodes import ExitCode
from ..report import MACHINE_FORMATS, RENDERERS, resolve_format
from .common import FailOn, check_ignored, exit_code, load_rules, parse_metrics


def diagnose(paths: tuple[Path, ...], fmt: str, fail_on: str, metrics: tuple[str, ...],
             ignore: tuple[str, ...], rule_paths: tuple[Path, ...], output: TextIO | None) -> ExitCode:
    """`lossdoctor diagnose`: report every path, return the gate's exit code."""
    rules = load_rules(rule_paths)
    settings = Settings(tuple(rules), parse_metrics(metrics), check_ignored(ignore, rules))
    gate = FailOn.parse(fail_on, {r.id for r in rules})
    diagnoses = [diagnose_safely(p, settings) for p in paths]
    stream = output or sys.stdout
    name = resolve_format(fmt, stream)
    for d in diagnoses:
        if d.error:
            print(f"lossdoctor: error: {d.error['message']}", file=sys.stderr)
    # A lone unreadable run is said once, on stderr; in a batch it keeps its row.
    shown = diagnoses if name in MACHINE_FORMATS or len(diagnoses) > 1 else \
        [d for d in diagnoses if not d.error]
    if shown:
        RENDERERS[name](shown, stream)
    return exit_code(diagnoses, gate)
