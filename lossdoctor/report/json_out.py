"""JSON: one document for all runs, `{"version": 1, "runs": [...]}`, on stdout only."""

from __future__ import annotations

import json
from typing import TextIO

from ..findings import Diagnosis

SCHEMA_VERSION = 1


def render_json(diagnoses: list[Diagnosis], out: TextIO) -> None:
    """Write the JSON document (NaN/Inf evidence is already turned into strings)."""
    doc = {"version": SCHEMA_VERSION, "runs": [d.to_dict() for d in diagnoses]}
    json.dump(doc, out, indent=2, allow_nan=False)
    out.write("\n")
