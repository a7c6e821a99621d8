"""Score lossdoctor against labeled sets: recall, precision, false alarms on healthy runs,
onsets.

    .venv/bin/python benchmarks/score.py                           # the two shipped sets
    .venv/bin/python benchmarks/score.py path/to/devset --verbose  # any set, every disagreement
    .venv/bin/python benchmarks/score.py SET --json                # machine-readable
    .venv/bin/python benchmarks/score.py SET --bar recall=0.95,precision=0.95,onset=0.9,healthy_fa=0
    .venv/bin/python benchmarks/score.py RESEEDED --accept-from ../shared/devset/labels.yaml

A set is a folder with `labels.yaml` and `runs/<name>/` (the development set's schema, see
benchmarks/sets/README.md): per run `expected` and `acceptable` labels of a fixed
vocabulary and `key_steps` (nan_step, nan_first_visible_in_log_step, divergence_window,
spike_window, early_stopping_window). Each run folder is diagnosed in-process, the way
`lossdoctor diagnose RUN --format json` does it (discovery, the first run found, the config
files of the current folder), and scored with the development set's semantics:

- recall: an expected label is found when a rule that satisfies it (SATISFIES) fired, at
  any severity; an unreadable run misses all its expected labels.
- precision: every warning/error rule whose labels are neither expected nor acceptable is a
  false positive of each label it asserts (a rule outside SATISFIES asserts `<rule>`).
- healthy false alarms: runs expecting `healthy` with such a warning/error rule.
- onsets: a key step is met when a finding of its rules has a step inside the window
  (nan_step .. nan_first_visible_in_log_step; divergence / spike / early-stopping window).

`--accept-from LABELS.yaml` adds another labels file's readings of a run of the same name
(its expected and acceptable labels) to the run's acceptable ones: a set regenerated with
other seeds carries the generator's automatic labels only, and this scores it with the
readings a review of the shipped set accepted (recall still counts the set's own expected
labels: what the run shows at its seed).

The last line per set has the development set's form:
    <set>: recall R precision P healthy-false-alarms F/N onset S/T unread U
Exit 0 when every set meets the bar (default: recall, precision 0.9, onset 0.8, no healthy
false alarm, nothing unread), else 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lossdoctor.commands.common import resolve  # noqa: E402
from lossdoctor.commands.diagnose import diagnose_arg  # noqa: E402
from lossdoctor.diagnose import Settings  # noqa: E402
from lossdoctor.findings import Finding, Severity  # noqa: E402

SETS = (ROOT / "tests" / "data" / "corpus", ROOT / "benchmarks" / "sets" / "generated")
BAR = {"recall": 0.9, "precision": 0.9, "healthy_fa": 0, "onset": 0.8}

# label -> the rule ids that satisfy it (the development set's table)
SATISFIES: dict[str, frozenset[str]] = {
    "overfitting": frozenset({"overfitting"}),
    "divergence": frozenset({"divergence"}),
    "nan_loss": frozenset({"nan_loss", "hidden_nan"}),
    "not_learning": frozenset({"not_learning"}),
    "plateau_late": frozenset({"plateau"}),
    "oscillation": frozenset({"oscillation"}),
    "loss_spike": frozenset({"loss_spike"}),
    "underfitting": frozenset({"underfitting"}),
    "lr_too_low": frozenset({"not_learning", "underfitting", "lr_too_low", "slow_convergence"}),
    "train_val_gap_inverted": frozenset({"inverted_gap"}),
    "data_problem": frozenset({"data_problem"}),
    "unscaled_targets": frozenset({"unscaled_loss"}),
}


def asserts(rule: str) -> frozenset[str]:
    """The labels a rule claims when it fires (for precision); `<rule>` for one outside the table."""
    labels = frozenset(lab for lab, rules in SATISFIES.items() if rule in rules)
    return labels or frozenset({f"<{rule}>"})


# key step -> (the label it times, the rules whose findings carry the onset)
ONSET_RULES = {"nan_loss": SATISFIES["nan_loss"], "divergence": SATISFIES["divergence"],
               "loss_spike": SATISFIES["loss_spike"], "overfitting": SATISFIES["overfitting"]}


@dataclass(frozen=True)
class Label:
    """One run's entry in labels.yaml."""

    expected: tuple[str, ...]
    acceptable: frozenset[str]
    key_steps: dict

    @property
    def ok_labels(self) -> frozenset[str]:
        return frozenset(self.expected) | self.acceptable


@dataclass(frozen=True)
class Fired:
    """What the scorer needs of one finding."""

    rule: str
    severity: str
    metric: str | None
    step: float | None
    message: str

    @property
    def loud(self) -> bool:
        return Severity.parse(self.severity) >= Severity.WARNING

    def brief(self) -> str:
        return f"{self.rule}[{self.severity}] {self.metric} @ {_num(self.step)}"


@dataclass
class Onset:
    what: str
    window: tuple[float, float]
    got: list[float]
    ok: bool


@dataclass
class RunResult:
    """One run scored: hits and misses per label, false positives, onsets, problem lines."""

    name: str
    fired: list[Fired] = field(default_factory=list)
    error: str | None = None
    healthy: bool = False
    tp: list[str] = field(default_factory=list)
    fn: list[str] = field(default_factory=list)
    fp: list[str] = field(default_factory=list)         # labels charged with a false positive
    alarms: list[str] = field(default_factory=list)     # loud rules on a healthy run
    onsets: list[Onset] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_labels(set_dir: Path) -> dict[str, Label]:
    return load_labels_file(set_dir / "labels.yaml")


def load_labels_file(path: Path) -> dict[str, Label]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {name: Label(tuple(e.get("expected") or ()), frozenset(e.get("acceptable") or ()),
                        dict(e.get("key_steps") or {}))
            for name, e in (doc.get("runs") or {}).items()}


def diagnose_folder(path: Path, settings: Settings) -> tuple[list[Fired] | None, str | None]:
    """(findings, None), or (None, why) when the run cannot be diagnosed."""
    try:
        diag = diagnose_arg(str(path), settings)[0]
    except Exception as exc:  # noqa: BLE001 - a crash in the tool is an unread run, not a scorer crash
        return None, f"internal error: {type(exc).__name__}: {exc}"[:150]
    if diag.error:
        return None, str(diag.error.message)[:150]
    return [_fired(f) for f in diag.findings], None


def _fired(f: Finding) -> Fired:
    return Fired(f.rule, f.severity.label, f.metric, f.step, f.message)


def judge(name: str, label: Label, findings: list[Fired] | None, error: str | None) -> RunResult:
    """Score one run's findings against its label."""
    res = RunResult(name, findings or [], error, healthy="healthy" in label.expected)
    expected = [lab for lab in label.expected if lab in SATISFIES]
    if findings is None:
        res.fn = expected
        res.problems.append(f"UNREAD {name}: {error}")
        return res
    by_rule: dict[str, list[Fired]] = defaultdict(list)
    for f in findings:
        by_rule[f.rule].append(f)
    loud = sorted(r for r, fs in by_rule.items() if any(f.loud for f in fs))
    wrong = [r for r in loud if not asserts(r) & label.ok_labels]
    if res.healthy and wrong:
        res.alarms = wrong
        res.problems.append(f"FALSE ALARM on healthy {name}: {wrong}")
    for lab in expected:
        if SATISFIES[lab] & set(by_rule):
            res.tp.append(lab)
        else:
            res.fn.append(lab)
            res.problems.append(f"MISSED {lab} in {name} (fired: {_briefs(findings)})")
    for r in wrong:
        res.fp += sorted(asserts(r))
        shown = next(f for f in by_rule[r] if f.loud)
        res.problems.append(f"WRONG {r} in {name} (expected {list(label.expected)}): "
                            f"{shown.brief()}: {shown.message[:160]}")
    res.onsets = onsets(name, label.key_steps, by_rule, res.problems)
    return res


def onsets(name: str, ks: dict, by_rule: dict[str, list[Fired]], problems: list[str]) -> list[Onset]:
    """Each key step: is one of its rules' findings inside the window?"""
    windows = []
    if ks.get("nan_step") is not None:
        hi = ks.get("nan_first_visible_in_log_step")
        windows.append(("nan_loss", (ks["nan_step"], ks["nan_step"] if hi is None else hi)))
    for key, what in (("divergence_window", "divergence"), ("spike_window", "loss_spike"),
                      ("early_stopping_window", "overfitting")):
        if ks.get(key) is not None:
            windows.append((what, tuple(ks[key])))
    out = []
    for what, (lo, hi) in windows:
        got = [f.step for r in sorted(ONSET_RULES[what]) for f in by_rule.get(r, []) if f.step is not None]
        ok = any(lo <= s <= hi for s in got)
        out.append(Onset(what, (lo, hi), got, ok))
        if not ok:
            off = min((max(lo - s, s - hi) for s in got), default=None)
            problems.append(f"ONSET {what} in {name}: got [{', '.join(_num(s) for s in got)}], "
                            f"want [{_num(lo)}, {_num(hi)}]"
                            + (f" (nearest {_num(off)} outside)" if off is not None else ""))
    return out


def _briefs(findings: list[Fired]) -> str:
    return ", ".join(f.brief() for f in findings) or "nothing"


def _num(x) -> str:
    if x is None:
        return "None"
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


@dataclass
class SetScore:
    """A whole set scored."""

    name: str
    path: str
    runs: list[RunResult]

    def count(self, what: str) -> Counter:
        return Counter(lab for r in self.runs for lab in getattr(r, what))

    @property
    def recall(self) -> float:
        tp, fn = sum(self.count("tp").values()), sum(self.count("fn").values())
        return tp / (tp + fn) if tp + fn else 0.0

    @property
    def precision(self) -> float:
        tp, fp = sum(self.count("tp").values()), sum(self.count("fp").values())
        return tp / (tp + fp) if tp + fp else 0.0

    @property
    def healthy_runs(self) -> int:
        return sum(r.healthy and r.error is None for r in self.runs)  # an unread run is not judged

    @property
    def healthy_fa(self) -> int:
        return sum(bool(r.alarms) for r in self.runs)

    @property
    def onset_checked(self) -> list[Onset]:
        return [o for r in self.runs for o in r.onsets]

    @property
    def onset_share(self) -> float:
        checked = self.onset_checked
        return sum(o.ok for o in checked) / len(checked) if checked else 1.0

    @property
    def unread(self) -> int:
        return sum(r.error is not None for r in self.runs)

    def summary(self) -> str:
        ok = sum(o.ok for o in self.onset_checked)
        return (f"{self.name}: recall {self.recall:.2f} precision {self.precision:.2f} healthy-false-alarms "
                f"{self.healthy_fa}/{self.healthy_runs} onset {ok}/{len(self.onset_checked)} unread {self.unread}")

    def per_label(self) -> dict[str, dict]:
        tp, fn, fp = self.count("tp"), self.count("fn"), self.count("fp")
        table = {}
        for lab in sorted(set(tp) | set(fn) | set(fp)):
            table[lab] = {"tp": tp[lab], "fn": fn[lab], "fp": fp[lab],
                          "recall": _ratio(tp[lab], tp[lab] + fn[lab]),
                          "precision": _ratio(tp[lab], tp[lab] + fp[lab])}
        return table

    def holds(self, bar: dict) -> bool:
        return (self.recall >= bar["recall"] and self.precision >= bar["precision"]
                and self.healthy_fa <= bar["healthy_fa"] and self.onset_share >= bar["onset"] and not self.unread)

    def to_dict(self) -> dict:
        ok = sum(o.ok for o in self.onset_checked)
        return {"set": self.name, "path": self.path, "runs": len(self.runs),
                "recall": round(self.recall, 4), "precision": round(self.precision, 4),
                "healthy_false_alarms": self.healthy_fa, "healthy_runs": self.healthy_runs,
                "onset_ok": ok, "onset_checked": len(self.onset_checked), "unread": self.unread,
                "labels": self.per_label(), "problems": [p for r in self.runs for p in r.problems],
                "per_run": {r.name: {"fired": [asdict(f) for f in r.fired], "error": r.error, "tp": r.tp, "fn": r.fn,
                                     "fp": r.fp, "alarms": r.alarms, "onsets": [asdict(o) for o in r.onsets]}
                            for r in self.runs}}


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def accepted_readings(labels_file: Path) -> dict[str, frozenset[str]]:
    """Per run name, every label another labels file expects or accepts for it."""
    return {name: frozenset(lab.expected) | lab.acceptable for name, lab in load_labels_file(labels_file).items()}


def score_set(set_dir: Path, settings: Settings | None = None,
              accept: dict[str, frozenset[str]] | None = None) -> SetScore:
    """Diagnose every labeled run of a set (in labels.yaml order) and score it; `accept` adds
    readings to each named run's acceptable labels (--accept-from)."""
    set_dir = Path(set_dir)
    settings = settings or resolve(None, None).settings  # what `lossdoctor diagnose` uses with no flags
    runs = []
    for name, label in load_labels(set_dir).items():
        if accept and name in accept:
            label = replace(label, acceptable=label.acceptable | (accept[name] - {"healthy"}))
        findings, error = diagnose_folder(set_dir / "runs" / name, settings)
        runs.append(judge(name, label, findings, error))
    return SetScore(set_dir.resolve().name, str(set_dir), runs)


def render_verbose(score: SetScore) -> str:
    lines = [f"== {score.name} ({score.path}): {len(score.runs)} runs",
             f"  {'label':24s} {'tp':>3s} {'fn':>3s} {'fp':>3s} {'recall':>7s} {'precision':>9s}"]
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    for lab, row in score.per_label().items():
        lines.append(f"  {lab:24s} {row['tp']:3d} {row['fn']:3d} {row['fp']:3d} {fmt(row['recall']):>7s} "
                     f"{fmt(row['precision']):>9s}")
    lines += [p for r in score.runs for p in r.problems]
    return "\n".join(lines)


def parse_bar(text: str | None) -> dict:
    bar = dict(BAR)
    for kv in (text or "").split(","):
        if kv.strip():
            key, _, value = kv.partition("=")
            if key.strip() not in bar:
                raise SystemExit(f"--bar: unknown key {key!r} (keys: {', '.join(bar)})")
            bar[key.strip()] = float(value)
    return bar


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sets", nargs="*", type=Path, default=list(SETS),
                    help="set folders (labels.yaml + runs/); default: the two shipped sets")
    ap.add_argument("--verbose", action="store_true", help="per-label table and every disagreement")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    ap.add_argument("--bar", help="recall=R,precision=P,onset=O,healthy_fa=N (exit 1 when a set misses it)")
    ap.add_argument("--accept-from", type=Path, metavar="LABELS.yaml",
                    help="also accept the readings this labels file gives a run of the same name")
    args = ap.parse_args(argv)
    bar = parse_bar(args.bar)
    accept = accepted_readings(args.accept_from) if args.accept_from else None
    scores = [score_set(s, accept=accept) for s in args.sets]
    if args.json:
        print(json.dumps({"bar": bar, "sets": [s.to_dict() for s in scores]}, indent=1))
    else:
        for s in scores:
            if args.verbose:
                print(render_verbose(s))
            print(s.summary())
    return 0 if all(s.holds(bar) for s in scores) else 1


if __name__ == "__main__":
    sys.exit(main())
