"""JSON: one document for all runs, on stdout only; its shape is lossdoctor/schema/report.json.

    {"version": 1, "lossdoctor": "0.4.0", "gate": {"fail_on": "error", "failed": true},
     "runs": [{... Diagnosis.to_dict(), "fails_gate": true, "early_stopping": {...} | null}]}

Floats keep 7 significant digits (numfmt.json_number); NaN/Inf are strings.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from ..findings import Diagnosis
from . import early
from .options import DEFAULT_OPTIONS, RenderOptions

SCHEMA_VERSION = 1


def run_dict(diag: Diagnosis, options: RenderOptions) -> dict[str, Any]:
    """One run: its record, whether it fails the gate, and the early-stopping replay."""
    return {**diag.to_dict(), "fails_gate": options.fails(diag), "early_stopping": early.as_json(early.replay(diag))}


def header(options: RenderOptions, failed: bool) -> dict[str, Any]:
    """What every JSON document starts with: schema version, tool version, the gate."""
    gate = {"fail_on": options.gate_label, "failed": failed}
    if options.max_spike_score is not None:
        gate["max_spike_score"] = options.max_spike_score
    return {"version": SCHEMA_VERSION, "lossdoctor": options.version, "gate": gate}


def dump(doc: dict[str, Any], out: TextIO) -> None:
    """ASCII JSON (a lone surrogate from a JSON key stays an escape, never an encoding error)."""
    json.dump(doc, out, indent=2, allow_nan=False, ensure_ascii=True)
    out.write("\n")


def render_json(diagnoses: list[Diagnosis], out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """Write the JSON document (NaN/Inf evidence is already turned into strings)."""
    runs = [run_dict(d, options) for d in diagnoses]
    dump({**header(options, any(r["fails_gate"] for r in runs)), "runs": runs}, out)
