"""How often lossdoctor is right: precision, recall and onset errors on labeled runs.

    .venv/bin/python benchmarks/accuracy.py                      # both shipped sets
    .venv/bin/python benchmarks/accuracy.py path/to/set --json   # any set, machine-readable
    .venv/bin/python benchmarks/accuracy.py --check              # exit 1 when a bar is missed

A *set* is a folder holding `labels.yaml` and `runs/<name>/...` (one run folder per run,
read with `lossdoctor.sources.read_run`). `labels.yaml`:

    runs:
      <name>:                       # a folder under runs/ (every folder needs an entry)
        expect: [overfitting]       # rule ids that must fire (default: none)
        acceptable: [plateau]       # may fire or not: neither a hit nor a false alarm
        healthy: true               # no warning/error finding may fire at all (default false)
        steps:                      # expected onset per rule (optional), see TOLERANCE
          overfitting: {step: 800, metric: eval_loss}
        why: "the numbers behind the label, and where it departs from other labels"

Any rule that fires and is neither expected nor acceptable is a false positive; an
expected rule that does not fire is a false negative. Counted per run and rule id (a rule
firing on two loss terms of one run counts once). Onsets are checked only for rules that
fired on a run where they were expected, on the finding of the labeled metric.
Standard library and lossdoctor only.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np  # lossdoctor's own dependencies
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lossdoctor.diagnose import Settings, diagnose_run  # noqa: E402
from lossdoctor.errors import LossdoctorError  # noqa: E402
from lossdoctor.findings import Diagnosis, Severity  # noqa: E402
from lossdoctor.frame import Run  # noqa: E402
from lossdoctor.sources import read_run  # noqa: E402

SETS = (ROOT / "tests" / "data" / "corpus", ROOT / "benchmarks" / "sets" / "generated")
# The bars (issue "Diagnoses that are right"): precision and recall per rule, on each set.
BARS = {"nan_loss": 0.95, "divergence": 0.95, "hidden_nan": 0.95, "overfitting": 0.9,
        "not_learning": 0.9, "loss_spike": 0.9, "oscillation": 0.9}
DEFAULT_BAR = 0.85
# How far a reported onset may be from the labeled one: exact for NaN (the first logged
# non-finite step), 5% of the run's step span for a blow-up or a spike, 2 logged
# validation points for overfitting's best step (where early stopping should stop).
TOLERANCE = {"nan_loss": ("exact", 0), "divergence": ("span", 0.05),
             "loss_spike": ("span", 0.05), "overfitting": ("points", 2)}


@dataclass
class Label:
    """What a run should get: expected and acceptable rule ids, onsets, healthy or not."""

    expect: set[str]
    acceptable: set[str]
    healthy: bool
    steps: dict[str, dict]
    why: str = ""


@dataclass
class RunResult:
    """The outcome on one run: the rules that fired and every disagreement found."""

    name: str
    fired: set[str]
    onsets: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_labels(set_dir: Path) -> dict[str, Label]:
    """Read `<set>/labels.yaml`; every run folder must have an entry and vice versa."""
    doc = yaml.safe_load((set_dir / "labels.yaml").read_text(encoding="utf-8"))
    labels = {name: Label(set(e.get("expect") or ()), set(e.get("acceptable") or ()),
                          bool(e.get("healthy", False)), dict(e.get("steps") or {}),
                          str(e.get("why", "")))
              for name, e in (doc.get("runs") or {}).items()}
    folders = {p.name for p in (set_dir / "runs").iterdir() if p.is_dir()}
    if folders != set(labels):
        raise SystemExit(f"{set_dir}: runs without labels {sorted(folders - set(labels))}, "
                         f"labels without runs {sorted(set(labels) - folders)}")
    return labels


def judge_run(name: str, run: Run, diag: Diagnosis, label: Label) -> RunResult:
    """Compare one diagnosis with its label."""
    fired = {f.rule for f in diag.findings}
    res = RunResult(name, fired)
    for rule in sorted(label.expect - fired):
        res.problems.append(f"missed {rule}")
    for rule in sorted(fired - label.expect - label.acceptable):
        f = next(f for f in diag.findings if f.rule == rule)
        res.problems.append(f"false alarm {rule} ({f.metric} @ {f.step}): {f.message}")
    if label.healthy:
        for f in diag.findings:
            if f.severity >= Severity.WARNING:
                res.problems.append(f"alarm on a healthy run: {f.rule} ({f.metric} @ {f.step})")
    for rule, want in label.steps.items():
        if rule in fired and rule in TOLERANCE:
            res.onsets.append(judge_onset(rule, want, run, diag, res))
    return res


def judge_onset(rule: str, want: dict, run: Run, diag: Diagnosis, res: RunResult) -> dict:
    """The reported onset against the labeled one, with the rule's tolerance."""
    metric = want.get("metric")
    found = [f for f in diag.findings if f.rule == rule and (metric is None or f.metric == metric)]
    out = {"run": res.name, "rule": rule, "metric": metric, "expected": want["step"],
           "found": None, "error": None, "ok": False}
    if found:
        step = min((f.step for f in found), key=lambda s: abs(s - want["step"]))
        out["found"], (out["error"], out["ok"]) = step, onset_error(rule, want, step, run)
    if not out["ok"]:
        res.problems.append(f"onset {rule} on {metric}: expected {want['step']}, "
                            f"found {out['found']} (error {out['error']})")
    return out


def onset_error(rule: str, want: dict, step: float, run: Run) -> tuple[float, bool]:
    """(error in the rule's unit, within tolerance): steps, share of the span, or points."""
    kind, tol = TOLERANCE[rule]
    series = run.series.get(want.get("metric") or "")
    if kind == "exact":
        err = abs(step - want["step"])
        return err, err == 0
    if series is None or not len(series):
        return float("nan"), False
    steps = series.steps[np.isfinite(series.values)] if kind == "points" else series.steps
    if kind == "span":
        span = float(steps[-1] - steps[0]) or 1.0
        err = abs(step - want["step"]) / span
        return round(err, 4), err <= tol
    idx = lambda s: int(abs(steps - s).argmin())  # noqa: E731 - the nearest logged point
    err = abs(idx(step) - idx(want["step"]))
    return err, err <= tol


def evaluate_set(set_dir: Path, settings: Settings | None = None) -> dict:
    """Diagnose every run of a set and score it: the document `--json` prints."""
    settings = settings or Settings.default()
    labels = load_labels(set_dir)
    results = []
    for name, label in sorted(labels.items()):
        try:
            run = read_run(set_dir / "runs" / name)
            res = judge_run(name, run, diagnose_run(run, settings), label)
        except LossdoctorError as exc:
            res = RunResult(name, set(), problems=[f"error: {exc}"])
            res.problems += [f"missed {r}" for r in sorted(label.expect)]
        results.append(res)
    return score(set_dir, labels, results)


def score(set_dir: Path, labels: dict[str, Label], results: list[RunResult]) -> dict:
    """Per-rule counts, precision and recall, onsets, disagreements and the bar check."""
    rules = sorted({r for lb in labels.values() for r in lb.expect}
                   | {r for res in results for r in res.fired} | set(BARS))
    table = {}
    for rule in rules:
        tp = sum(1 for res in results if rule in res.fired and rule in labels[res.name].expect)
        fn = sum(1 for res in results if rule not in res.fired and rule in labels[res.name].expect)
        fp = sum(1 for res in results if rule in res.fired
                 and rule not in labels[res.name].expect | labels[res.name].acceptable)
        table[rule] = {"tp": tp, "fp": fp, "fn": fn, "precision": _ratio(tp, tp + fp),
                       "recall": _ratio(tp, tp + fn)}
    doc = {"set": str(set_dir), "runs": len(results),
           "healthy_runs": sum(lb.healthy for lb in labels.values()),
           "healthy_alarms": sum(1 for res in results for p in res.problems
                                 if p.startswith("alarm on a healthy run")),
           "rules": table, "onsets": [o for res in results for o in res.onsets],
           "disagreements": {res.name: res.problems for res in results if res.problems}}
    doc["failures"] = bar_failures(doc)
    return doc


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None  # None: nothing to measure


def bar_failures(doc: dict) -> list[str]:
    """Every bar the set misses (empty when it meets them all)."""
    out = []
    if doc["healthy_alarms"]:
        out.append(f"{doc['healthy_alarms']} warning/error finding(s) on healthy runs")
    for rule, row in doc["rules"].items():
        bar = BARS.get(rule, DEFAULT_BAR)
        for what in ("precision", "recall"):
            if row[what] is not None and row[what] < bar:
                out.append(f"{rule}: {what} {row[what]:.3f} < {bar}")
    out += [f"onset {o['rule']} on {o['run']}: expected {o['expected']}, found {o['found']}"
            for o in doc["onsets"] if not o["ok"]]
    return out


def render(doc: dict) -> str:
    """The plain-text report of one set."""
    lines = [f"== {doc['set']}: {doc['runs']} runs, {doc['healthy_runs']} healthy "
             f"({doc['healthy_alarms']} alarms on them)",
             f"{'rule':16s} {'TP':>4s} {'FP':>4s} {'FN':>4s} {'precision':>10s} {'recall':>7s}"]
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    for rule, r in doc["rules"].items():
        lines.append(f"{rule:16s} {r['tp']:4d} {r['fp']:4d} {r['fn']:4d} "
                     f"{fmt(r['precision']):>10s} {fmt(r['recall']):>7s}")
    lines.append("onsets (rule: within tolerance / checked, largest error):")
    for rule, (kind, tol) in TOLERANCE.items():
        got = [o for o in doc["onsets"] if o["rule"] == rule]
        errs = [o["error"] for o in got if o["error"] is not None]
        unit = {"exact": "steps", "span": "of the span", "points": "val points"}[kind]
        lines.append(f"  {rule:14s} {sum(o['ok'] for o in got)}/{len(got)}"
                     f"  max error {max(errs) if errs else '-'} {unit} (tolerance {tol})")
    lines.append(f"disagreements ({len(doc['disagreements'])} runs):")
    for name, problems in doc["disagreements"].items():
        lines += [f"  {name}: {p[:220]}" for p in problems]
    lines.append("bars: " + ("all met" if not doc["failures"] else
                             "MISSED: " + "; ".join(doc["failures"])))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Score each set; with --check, exit 1 when any set misses a bar."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="*", type=Path, default=list(SETS),
                    help="set folders (labels.yaml + runs/); default: the two shipped sets")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("--check", action="store_true", help="exit 1 when a bar is not met")
    args = ap.parse_args(argv)
    docs = [evaluate_set(s) for s in args.sets]
    if args.json:
        print(json.dumps({"sets": docs}, indent=1))
    else:
        print("\n\n".join(render(d) for d in docs))
    return 1 if args.check and any(d["failures"] for d in docs) else 0


if __name__ == "__main__":
    sys.exit(main())
