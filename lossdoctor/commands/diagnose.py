"""`lossdoctor diagnose`: diagnose each path, render one report, return the gate's exit code."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TextIO

from ..diagnose import diagnose_safely
from ..exitcodes import ExitCode
from ..report import pick
from ..report.escape import text as safe
from .common import View, draw_picture, exit_code, resolve


def diagnose(paths: tuple[Path, ...], fmt: str, fail_on: str | None, metrics: tuple[str, ...],
             ignore: tuple[str, ...], rule_paths: tuple[Path, ...], output: TextIO | None,
             config: Path | None = None, verify: bool = False, view: View = View()) -> ExitCode:
    """`lossdoctor diagnose`: report every path, return the gate's exit code.

    `fail_on=None` means "not given": the config files (or the default, error) decide."""
    resolved = resolve(config, fail_on, metrics, ignore, rule_paths)
    settings, gate = resolved.settings, resolved.gate
    if verify:
        settings = dataclasses.replace(settings, verify=True)
    diagnoses = [diagnose_safely(p, settings) for p in paths]
    stream = output or sys.stdout
    chosen = pick(fmt, stream, view.color)
    for d in diagnoses:
        if d.error:
            print(f"lossdoctor: error: {safe(d.error['message'])}", file=sys.stderr)
    options = view.apply(resolved.render_options())
    if view.plot:
        options = dataclasses.replace(options, image=draw_picture(diagnoses, view.plot))
    # A lone unreadable run is said once, on stderr; in a batch it keeps its row.
    shown = diagnoses if chosen.machine or len(diagnoses) > 1 else \
        [d for d in diagnoses if not d.error]
    if shown:
        chosen.diagnose(shown, stream, options)
    return exit_code(diagnoses, gate)
