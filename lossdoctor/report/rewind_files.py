"""`diagnose --rewind-plan DIR`: each run's rewind-and-skip plan as the files trainers take.

    DIR/rewind_plan.json   the plan (the same object as the JSON report's `rewind_plan`)
    DIR/skip_batches.json  the batches to skip as a JSON list of indices, the file
                           Lightning's SpikeDetection callback writes (`json.dump(list, indent=4)`)
    DIR/megatron_args.txt  `--train-range-to-skip A B ...` (Megatron-DeepSpeed, microsoft /
                           argonne-lcf: pairs of inclusive iterations) and
                           `--skip-train-iteration-range A-B ...` (bigscience's fork)

With several runs, each gets a subfolder `DIR/<n>-<name>/`. A run that needs no rewind
gets no files (stderr says so).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from ..errors import OutputError
from ..findings import Diagnosis
from ..stability import tidy
from .escape import controls, text as safe


def write_plans(diagnoses: list[Diagnosis], target: Path) -> list[Path]:
    """Write the plan files of every run that has a plan; returns the folders written."""
    planned = [d for d in diagnoses if not d.error and d.rewind is not None]
    for d in diagnoses:
        if not d.error and d.rewind is None:
            print(f"lossdoctor: {safe(d.name or d.path)}: no spike needs a rewind, no plan written", file=sys.stderr)
    folders = [target] if len(diagnoses) == 1 else \
        [target / f"{i}-{_slug(d.name or d.path)}" for i, d in enumerate(planned, 1)]
    for diag, folder in zip(planned, folders):
        try:
            write_plan(diag, folder)
        except OSError as exc:
            raise OutputError(f"--rewind-plan {target}",
                              f"cannot write {folder}: {(exc.strerror or str(exc)).lower()}") from None
    return folders[: len(planned)]


def write_plan(diag: Diagnosis, folder: Path) -> None:
    """The three files of one run's plan."""
    plan = diag.rewind
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"run": diag.run or diag.path, "log": diag.path, **tidy(plan.to_dict())}
    (folder / "rewind_plan.json").write_text(json.dumps(doc, indent=2, ensure_ascii=True) + "\n", encoding="utf-8")
    (folder / "skip_batches.json").write_text(json.dumps(plan.skip_batches(), indent=4) + "\n", encoding="utf-8")
    first = plan.restore
    # The path is data: a newline in it would start a line a launcher reads as arguments, and a
    # file name's undecodable byte (a lone surrogate) has no UTF-8 spelling. Both show as escapes.
    where = controls(first.checkpoint) if first.checkpoint else "no checkpoint of it was found beside the log"
    lines = [f"# restart from the checkpoint of iteration {first.restore:g} ({where}),",
             "# e.g. --load <its parent folder> with latest_checkpointed_iteration.txt set to it; then skip:",
             *plan.megatron_args()]
    (folder / "megatron_args.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _slug(name: str) -> str:
    """A folder name from a run's name (its path): safe characters only, not too long."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[-60:] or "run"
