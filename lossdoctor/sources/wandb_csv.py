"""The CSV that W&B's web UI exports from a chart ("Download CSV") -> Run.

Format `wandb_csv` (files named like `wandb_export_<date>.csv`): the x column first
(`Step`, or whatever the chart's x-axis was: `epoch`, `trainer/global_step`, ...), then for
each run in the chart `<run name> - <metric>` and, when the chart sampled its points,
`<run name> - <metric>__MIN` / `__MAX`, the band around each sampled point. An empty cell:
that run did not log the metric at that x. The __MIN/__MAX bands are not points of the
curve and are left out (a note says so). One run: series are named by the metric; several
runs: `<run name>/<metric>` (the chart compared them; lossdoctor diagnoses one run, so
name one with --metric). Content sniff (`sniff_wandb_csv`): a header whose every column
after the first is `<run> - <metric>`, with an `__MIN`/`__MAX` column or `Step` first.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..frame import Run
from ..numfmt import plural
from .columns import RunBuilder, numeric_cells
from .text import read_text

_COLUMN = re.compile(r"^(?P<run>.+?) - (?P<metric>.+?)(?P<band>__MIN|__MAX)?$")


def _header(text: str) -> list[str] | None:
    first = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    if not first or "," not in first:
        return None
    try:
        return next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return None


def sniff_wandb_csv(text: str, path: Path) -> str | None:
    """`wandb_csv` for a W&B chart export header."""
    names = _header(text)
    if not names or len(names) < 2:
        return None
    parsed = [_COLUMN.match(n) for n in names[1:]]
    if not all(parsed):
        return None
    banded = any(m.group("band") for m in parsed if m)
    return "wandb_csv" if banded or names[0].strip() == "Step" else None


def read_wandb_csv(path: Path) -> Run:
    """One series per (run, metric) column of the export; the x column is the axis."""
    builder = RunBuilder(path, "wandb_csv")
    text = read_text(path, builder.notes)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError) as e:
        raise InputError(path, f"not a W&B CSV export ({str(e).splitlines()[0]})") from None
    x_name = table.columns[0]
    x, x_ok, _ = numeric_cells(table[x_name])
    columns = [(c, _COLUMN.match(c)) for c in table.columns[1:]]
    runs = {m.group("run") for _, m in columns if m}
    bands = [c for c, m in columns if m and m.group("band")]
    if bands:
        builder.notes.append(f"left out {plural(len(bands), '__MIN/__MAX column')}: the band W&B draws around sampled points")
    if len(runs) > 1:
        builder.notes.append(f"{len(runs)} runs in one chart export ({', '.join(sorted(runs)[:4])}"
                             f"{', ...' if len(runs) > 4 else ''}): series are named <run>/<metric>")
    axis = "epoch" if "epoch" in x_name.lower() else "step"
    for column, m in columns:
        if m is None or m.group("band"):
            continue
        values, present, _ = numeric_cells(table[column])
        keep = present & x_ok
        name = m.group("metric") if len(runs) == 1 else f"{m.group('run')}/{m.group('metric')}"
        builder.add(name, x[keep], values[keep], axis)
    if not builder.run.series:
        raise InputError(path, "W&B CSV export with no numeric values")
    return builder.finish()
