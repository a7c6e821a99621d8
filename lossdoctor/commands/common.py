"""What several commands share: the --fail-on gate, rule loading, option parsing, exit codes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..config import Config, load_config
from ..diagnose import Settings
from ..errors import ConfigError
from ..exitcodes import ExitCode
from ..findings import Diagnosis, Finding, Severity
from ..report import RenderOptions
from ..engine import RuleIndex


@dataclass(frozen=True)
class FailOn:
    """The gate: a severity threshold and/or a set of rule ids that fail the run, and a
    spike score above which a run fails (`--max-spike-score`)."""

    threshold: Severity | None
    rules: frozenset[str] = frozenset()
    max_spike_score: float | None = None

    @classmethod
    def parse(cls, text: str, index: RuleIndex, where: str = "--fail-on") -> "FailOn":
        """`error`, `warning`, `info`, `never`, or `rule_a,rule_b` (ids, aliases or tags);
        `where` locates errors."""
        value = text.strip().lower()
        if value == "never":
            return cls(None)
        try:
            return cls(Severity.parse(value))
        except ValueError:
            pass
        tokens = {v.strip() for v in value.split(",") if v.strip()}
        unknown = sorted(t for t in tokens if t not in index)
        if unknown or not tokens:
            close = index.closest(unknown[0], GATE_WORDS) if unknown else None
            raise ConfigError(f"{where}: '{unknown[0] if unknown else text}' is neither a severity "
                              "(info, warning, error, never) nor a rule id"
                              + (f" (did you mean '{close}'?)" if close else ""))
        return cls(None, frozenset(rid for t in tokens for rid in index.ids(t, where)))

    def fails(self, diag: Diagnosis) -> bool:
        """True when a finding of this run is at/above the threshold or a named rule, or its
        spike score is above --max-spike-score."""
        return any(self.fails_finding(f) for f in diag.findings) or diag.spike_score_exceeds(self.max_spike_score)

    def fails_finding(self, finding: Finding) -> bool:
        """True when this finding is at/above the threshold or from a named rule."""
        return (self.threshold is not None and finding.severity >= self.threshold) \
            or finding.rule in self.rules

    @property
    def label(self) -> str:
        """The gate as written on the command line: `error`, `never`, `nan_loss,divergence`."""
        if self.rules:
            return ",".join(sorted(self.rules))
        return self.threshold.label if self.threshold is not None else "never"


DEFAULT_GATE = FailOn(Severity.ERROR)
GATE_WORDS = ("info", "warning", "error", "never")  # suggested for a mistyped --fail-on too


def parse_metrics(pairs: tuple[str, ...]) -> dict[str, str]:
    """`('val_loss=eval/my_loss',)` -> {'val_loss': 'eval/my_loss'}."""
    out = {}
    for pair in pairs:
        role, sep, name = pair.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise ConfigError(f"--metric {pair}: expected ROLE=NAME, e.g. val_loss=eval/loss")
        out[role.strip()] = name.strip()
    return out


def check_ignored(ignore: tuple[str, ...], index: RuleIndex) -> frozenset[str]:
    """Rule ids to skip (`--ignore` takes ids, aliases and tags); an unknown one is a usage
    error (a typo would silently do nothing)."""
    return index.select(ignore, lambda _, token: f"--ignore {token}")


def exit_code(diagnoses: list[Diagnosis], gate: FailOn) -> ExitCode:
    """Unreadable input outranks nothing-to-diagnose, which outranks a failed gate."""
    kinds = {d.error.kind for d in diagnoses if d.error}
    if "usage" in kinds:  # --metric naming a series the log does not have
        return ExitCode.USAGE
    if "input" in kinds:
        return ExitCode.INPUT
    if "nothing" in kinds:
        return ExitCode.NOTHING
    if any(gate.fails(d) for d in diagnoses):
        return ExitCode.FINDINGS
    return ExitCode.OK


@dataclass(frozen=True)
class Resolved:
    """Everything the config layers and the flags decide for a diagnosis."""

    settings: Settings
    gate: FailOn
    config: Config

    def render_options(self) -> RenderOptions:
        """What renderers need: the gate, the rules that ran and those ignored."""
        ran = tuple(r.id for r in self.settings.rules if r.id not in self.settings.ignore)
        return RenderOptions(gate=self.gate.fails_finding, gate_label=self.gate.label, rules=ran,
                             ignored=self.settings.ignore, root=str(Path.cwd()),
                             max_spike_score=self.gate.max_spike_score)


def resolve(config_file: Path | None, fail_on: str | None, metrics: tuple[str, ...] = (),
            ignore: tuple[str, ...] = (), rule_paths: tuple[Path, ...] = (),
            max_spike_score: float | None = None) -> Resolved:
    """Layer the flags over the config files: flags win (`--fail-on`, `--metric` by role);
    `--ignore` and `--rules` add to what the files set. `fail_on=None` means not given."""
    config = load_config(config_file, rule_paths)
    index = config.index
    gates = [FailOn.parse(text, index, where) for where, text in config.fail_on]  # check every layer
    gate = FailOn.parse(fail_on, index) if fail_on is not None else (gates[-1] if gates else DEFAULT_GATE)
    gate = dataclasses.replace(gate, max_spike_score=max_spike_score)
    settings = Settings(config.rules, {**config.metrics, **parse_metrics(metrics)},
                        config.ignore | check_ignored(ignore, index))
    return Resolved(settings, gate, config)


@dataclass(frozen=True)
class View:
    """How much to say and how: -q/-v, --color/--no-color, --plot FILE, the terminal width."""

    verbosity: int = 0
    color: bool | None = None
    plot: Path | None = None
    width: int | None = None

    def apply(self, options: RenderOptions) -> RenderOptions:
        """The render options with this view's settings."""
        return dataclasses.replace(options, verbosity=self.verbosity, color=self.color, width=self.width)


def draw_picture(diagnoses: list[Diagnosis], target: Path) -> str | None:
    """Draw the curves of every diagnosed run into `target` (several runs: name-1.png, ...);
    returns the path of the first picture, as the reports cite it."""
    from ..report.plot import save_picture  # matplotlib only when a picture is asked for

    shown = [d for d in diagnoses if not d.error]
    if not shown:
        return None
    paths = [target] if len(shown) == 1 else \
        [target.with_name(f"{target.stem}-{i}{target.suffix}") for i in range(1, len(shown) + 1)]
    cwd = Path.cwd()
    for diag, path in zip(shown, paths):
        save_picture(diag, path, _relative(diag.path, cwd))
    return str(paths[0])


def _relative(path: str, cwd: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(cwd.resolve()))
    except ValueError:
        return path
