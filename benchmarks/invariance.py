"""Invariance of the diagnosis: transformations of a run that must not change which rules fire.

    .venv/bin/python benchmarks/invariance.py                          # the two shipped sets
    .venv/bin/python benchmarks/invariance.py ../shared/devset/runs benchmarks/sets/generated --json

No labels needed. Each run is read once (as `lossdoctor diagnose` discovers and reads it),
transformed in memory (lossdoctor.frame Run/Series, so every log format is covered without
rewriting files) and diagnosed again with lossdoctor.diagnose.diagnose_run. A (run,
transformation) pair holds when the set of rule ids that fire is the same, compared at
warning/error level and, separately, at every level:

- loss x1000, loss x0.001: every loss series scaled (unscaled_loss, which judges the
  magnitude itself, is left out of the comparison);
- every 2nd / 5th point: the step-level series (those with more points than the
  evaluations) logged at a coarser interval (every k-th point kept; series of per-epoch
  logs when all are per epoch); only series with >= 10k points are thinned;
- per-epoch means: the step-level series replaced by their means between evaluations,
  placed at the evaluation (needs an evaluated val loss and step-level series);
- step +1e6: every x position offset; the findings' steps must move by exactly 1e6 too;
- axis step / epoch / absent: the x-axis named `step`, `epoch` or `row` (what readers
  give a file without an x column), positions unchanged;
- extra metric: an unrelated metric (samples per second) logged beside the train loss.

A transformation that does not apply to a run (nothing to thin, no epoch notion, the axis
already has that name) is counted as n/a, not as held. Exit 0 always (a report).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lossdoctor.commands.common import resolve as resolve_config  # noqa: E402
from lossdoctor.diagnose import Settings, diagnose_run  # noqa: E402
from lossdoctor.errors import LossdoctorError  # noqa: E402
from lossdoctor.findings import Finding, Severity  # noqa: E402
from lossdoctor.frame import Run, Series  # noqa: E402
from lossdoctor.roles import classify, resolve  # noqa: E402
from lossdoctor.sources import discover, read_ref  # noqa: E402

SETS = (ROOT / "tests" / "data" / "corpus", ROOT / "benchmarks" / "sets" / "generated")
OFFSET = 1e6
MAGNITUDE_RULES = frozenset({"unscaled_loss"})  # judge the loss's size itself: not scale-invariant


@dataclass(frozen=True)
class Context:
    """What the transformations need to know of the original run."""

    losses: tuple[str, ...]
    step_level: tuple[str, ...]      # series logged more often than the evaluations
    evaluations: np.ndarray | None   # x positions of the main val loss
    train: str | None


def context(run: Run) -> Context:
    roles = resolve(run)
    vals = [n for n in roles.losses if n in run.series and (m := classify(n)) is not None and m.split != "train"]
    main_val = roles.by_role.get("val_loss") or (max(vals, key=lambda n: len(run.series[n])) if vals else None)
    n_val = len(run.series[main_val]) if main_val in run.series else 0
    step_level = tuple(n for n, s in run.series.items() if n_val and len(s) > 1.5 * n_val)
    evals = run.series[main_val].steps if main_val in run.series and n_val >= 3 else None
    train = roles.by_role.get("train_loss") or next((n for n in roles.losses if n in run.series), None)
    return Context(tuple(n for n in roles.losses if n in run.series), step_level, evals, train)


def _with(run: Run, series: dict[str, Series]) -> Run:
    return Run(run.path, run.format, series, list(run.notes))


def scale(k: float) -> Callable[[Run, Context], Run | None]:
    def apply(run: Run, ctx: Context) -> Run | None:
        if not ctx.losses:
            return None
        return _with(run, {n: dataclasses.replace(s, values=s.values * k) if n in ctx.losses else s
                           for n, s in run.series.items()})
    return apply


def every(k: int) -> Callable[[Run, Context], Run | None]:
    def apply(run: Run, ctx: Context) -> Run | None:
        names = ctx.step_level or tuple(run.series)
        thin = {n for n in names if len(run.series[n]) >= 10 * k}
        if not thin:
            return None
        return _with(run, {n: dataclasses.replace(s, steps=s.steps[k - 1::k], values=s.values[k - 1::k])
                           if n in thin else s for n, s in run.series.items()})
    return apply


def epoch_means(run: Run, ctx: Context) -> Run | None:
    """Each step-level series averaged over the points up to each evaluation (NaN/Inf kept)."""
    if ctx.evaluations is None or not ctx.step_level:
        return None
    edges = np.unique(ctx.evaluations)
    out = dict(run.series)
    for n in ctx.step_level:
        s = run.series[n]
        group = np.searchsorted(edges, s.steps, side="left")  # (edge[i-1], edge[i]] -> i
        xs, vs = [], []
        for g in np.unique(group):
            sel = group == g
            xs.append(edges[g] if g < len(edges) else s.steps[sel][-1])  # points after the last evaluation
            vs.append(float(np.mean(s.values[sel])))
        out[n] = dataclasses.replace(s, steps=np.array(xs, float), values=np.array(vs, float), logged=None)
    return _with(run, out)


def offset(run: Run, ctx: Context) -> Run | None:
    return _with(run, {n: dataclasses.replace(s, steps=s.steps + OFFSET,
                                              logged=None if s.logged is None else s.logged + OFFSET)
                       for n, s in run.series.items()})


def axis(name: str) -> Callable[[Run, Context], Run | None]:
    def apply(run: Run, ctx: Context) -> Run | None:
        if all(s.axis == name for s in run.series.values()):
            return None
        return _with(run, {n: dataclasses.replace(s, axis=name) for n, s in run.series.items()})
    return apply


def extra_metric(run: Run, ctx: Context) -> Run | None:
    base = run.series.get(ctx.train) if ctx.train else None
    if base is None:
        return None
    i = np.arange(len(base), dtype=float)
    extra = Series("throughput/samples_per_second", base.steps.copy(), 1000 + 50 * np.sin(i / 3), base.axis)
    return _with(run, {**run.series, extra.name: extra})


TRANSFORMS: dict[str, Callable[[Run, Context], Run | None]] = {
    "loss x1000": scale(1000.0), "loss x0.001": scale(0.001),
    "every 2nd point": every(2), "every 5th point": every(5),
    "per-epoch means": epoch_means, "step +1e6": offset,
    "axis step": axis("step"), "axis epoch": axis("epoch"), "axis absent": axis("row"),
    "extra metric": extra_metric,
}


# ---- diagnosing and comparing ---------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What a diagnosis gave: the findings, or the kind of error that stopped it."""

    findings: tuple[Finding, ...] = ()
    error: str | None = None

    def rules(self, loud: bool, drop: frozenset[str] = frozenset()) -> frozenset[str] | str:
        if self.error:
            return f"<error: {self.error}>"
        return frozenset(f.rule for f in self.findings
                         if f.rule not in drop and (not loud or f.severity >= Severity.WARNING))


def diagnose(run: Run, settings: Settings) -> Outcome:
    try:
        return Outcome(tuple(diagnose_run(run, settings).findings))
    except LossdoctorError as exc:
        return Outcome(error=exc.kind)


@dataclass
class Pair:
    """One (run, transformation) compared."""

    run: str
    transform: str
    applies: bool = True
    holds_loud: bool = True
    holds_all: bool = True
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    onsets_shifted: bool | None = None   # step +1e6 only

    @property
    def holds(self) -> bool:
        return self.holds_loud and self.holds_all and self.onsets_shifted is not False


def compare(name: str, transform: str, before: Outcome, after: Outcome | None) -> Pair:
    if after is None:
        return Pair(name, transform, applies=False)
    drop = MAGNITUDE_RULES if transform.startswith("loss x") else frozenset()
    pair = Pair(name, transform)
    for loud, key in ((True, "loud"), (False, "all")):
        b, a = before.rules(loud, drop), after.rules(loud, drop)
        pair.before[key], pair.after[key] = _show(b), _show(a)
        setattr(pair, f"holds_{key}", a == b)
    if transform == "step +1e6":
        pair.onsets_shifted = _shifted(before, after)
    return pair


def _show(rules: frozenset[str] | str) -> list[str] | str:
    return rules if isinstance(rules, str) else sorted(rules)


def _shifted(before: Outcome, after: Outcome) -> bool:
    """Every finding's step moved by exactly OFFSET (matched by rule and metric)."""
    def steps(o: Outcome) -> dict:
        out: dict = {}
        for f in o.findings:
            out.setdefault((f.rule, f.metric), []).append(f.step)
        return out
    b, a = steps(before), steps(after)
    if set(b) != set(a):
        return False
    for key, xs in b.items():
        ys = a[key]
        if len(xs) != len(ys):
            return False
        for x, y in zip(sorted(xs, key=_key), sorted(ys, key=_key)):
            if (x is None) != (y is None) or (x is not None and abs((y - OFFSET) - x) > 1e-6 * max(1.0, abs(x))):
                return False
    return True


def _key(x: float | None) -> float:
    return -np.inf if x is None else x


def run_folders(path: Path) -> list[Path]:
    """A set folder (with runs/), or a folder of run folders."""
    base = path / "runs" if (path / "runs").is_dir() else path
    return sorted(p for p in base.iterdir() if p.is_dir())


def read(folder: Path) -> Run | None:
    """The run `lossdoctor diagnose FOLDER` reads (the first one discovered)."""
    found = discover([str(folder)])
    if not found.runs:
        return None
    try:
        return read_ref(found.runs[0])
    except LossdoctorError:
        return None


def check_run(label: str, run: Run, settings: Settings, transforms: dict) -> list[Pair]:
    ctx = context(run)
    before = diagnose(run, settings)
    pairs = []
    for tname, fn in transforms.items():
        changed = fn(run, ctx)
        pairs.append(compare(label, tname, before, None if changed is None else diagnose(changed, settings)))
    return pairs


@dataclass
class Report:
    pairs: list[Pair]
    unread: list[str]

    def table(self) -> dict[str, dict]:
        rows = {}
        for tname in dict.fromkeys(p.transform for p in self.pairs):
            rows[tname] = _row([p for p in self.pairs if p.transform == tname])
        rows["overall"] = _row(self.pairs)
        return rows

    def failures(self) -> list[Pair]:
        return [p for p in self.pairs if p.applies and not p.holds]

    def to_dict(self) -> dict:
        return {"table": self.table(), "unread": self.unread,
                "failures": [dataclasses.asdict(p) for p in self.failures()]}


def _row(pairs: list[Pair]) -> dict:
    used = [p for p in pairs if p.applies]
    n = len(used)
    share = (lambda k: round(sum(k(p) for p in used) / n, 4) if n else None)  # noqa: E731
    return {"pairs": n, "n/a": len(pairs) - n, "holds": share(lambda p: p.holds),
            "holds_loud": share(lambda p: p.holds_loud), "holds_all_levels": share(lambda p: p.holds_all)}


def measure(folders: list[tuple[str, Path]], settings: Settings | None = None,
            transforms: dict | None = None) -> Report:
    """Check every (run, transformation) pair of the given run folders."""
    settings = settings or resolve_config(None, None).settings
    transforms = transforms or TRANSFORMS
    pairs, unread = [], []
    for label, folder in folders:
        run = read(folder)
        if run is None:
            unread.append(label)
            continue
        pairs += check_run(label, run, settings, transforms)
    return Report(pairs, unread)


def render(report: Report) -> str:
    lines = [f"{'transformation':18s} {'pairs':>5s} {'n/a':>4s} {'holds':>6s} {'loud':>6s} {'all':>6s}"]
    fmt = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
    for tname, row in report.table().items():
        lines.append(f"{tname:18s} {row['pairs']:5d} {row['n/a']:4d} {fmt(row['holds']):>6s} "
                     f"{fmt(row['holds_loud']):>6s} {fmt(row['holds_all_levels']):>6s}")
    lines.append(f"failures ({len(report.failures())}):")
    for p in report.failures():
        what = []
        if not p.holds_loud:
            what.append(f"loud {p.before['loud']} -> {p.after['loud']}")
        if not p.holds_all:
            what.append(f"all {p.before['all']} -> {p.after['all']}")
        if p.onsets_shifted is False:
            what.append("onsets did not shift by exactly 1e6")
        lines.append(f"  {p.run} | {p.transform}: " + "; ".join(what))
    if report.unread:
        lines.append(f"unread ({len(report.unread)}): {', '.join(report.unread)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="*", type=Path, default=list(SETS),
                    help="set folders (with runs/) or folders of run folders; default: the two shipped sets")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = ap.parse_args(argv)
    folders = [(f"{_set_name(s)}/{f.name}", f) for s in args.sets for f in run_folders(s)]
    report = measure(folders)
    print(json.dumps(report.to_dict(), indent=1) if args.json else render(report))
    return 0


def _set_name(path: Path) -> str:
    path = path.resolve()
    return path.parent.name if path.name == "runs" else path.name


if __name__ == "__main__":
    sys.exit(main())
