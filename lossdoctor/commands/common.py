"""What several commands share: the --fail-on gate, rule loading, option parsing, exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..exitcodes import ExitCode
from ..findings import Diagnosis, Severity
from ..ruleset import Rule, default_rules, load_rule_files, rule_files_in


@dataclass(frozen=True)
class FailOn:
    """The gate: a severity threshold and/or a set of rule ids that fail the run."""

    threshold: Severity | None
    rules: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str, known: set[str]) -> "FailOn":
        """`error`, `warning`, `info`, `never`, or `rule_a,rule_b`."""
        value = text.strip().lower()
        if value == "never":
            return cls(None)
        try:
            return cls(Severity.parse(value))
        except ValueError:
            pass
        ids = frozenset(v.strip() for v in value.split(",") if v.strip())
        unknown = sorted(ids - known)
        if unknown or not ids:
            raise ConfigError(f"--fail-on: '{unknown[0] if unknown else text}' is neither a severity "
                              "(info, warning, error, never) nor a rule id")
        return cls(None, ids)

    def fails(self, diag: Diagnosis) -> bool:
        """True when a finding of this run is at/above the threshold or a named rule."""
        return any((self.threshold is not None and f.severity >= self.threshold)
                   or f.rule in self.rules for f in diag.findings)


def load_rules(extra: tuple[Path, ...] = ()) -> list[Rule]:
    """The packaged rules plus extra rule files or folders."""
    files: list[Path] = []
    for path in extra:
        if path.is_dir():
            files += rule_files_in(path)
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(f"{path}: no such rule file or folder")
    return default_rules() + (load_rule_files(files) if files else [])


def parse_metrics(pairs: tuple[str, ...]) -> dict[str, str]:
    """`('val_loss=eval/my_loss',)` -> {'val_loss': 'eval/my_loss'}."""
    out = {}
    for pair in pairs:
        role, sep, name = pair.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise ConfigError(f"--metric {pair}: expected ROLE=NAME, e.g. val_loss=eval/loss")
        out[role.strip()] = name.strip()
    return out


def check_ignored(ignore: tuple[str, ...], rules: list[Rule]) -> frozenset[str]:
    """Rule ids to skip; an unknown id is a usage error (a typo would silently do nothing)."""
    known = {r.id for r in rules}
    for rid in ignore:
        if rid not in known:
            raise ConfigError(f"--ignore {rid}: no such rule (see `lossdoctor rules`)")
    return frozenset(ignore)


def exit_code(diagnoses: list[Diagnosis], gate: FailOn) -> ExitCode:
    """Unreadable input outranks nothing-to-diagnose, which outranks a failed gate."""
    kinds = {d.error["kind"] for d in diagnoses if d.error}
    if "input" in kinds:
        return ExitCode.INPUT
    if "nothing" in kinds:
        return ExitCode.NOTHING
    if any(gate.fails(d) for d in diagnoses):
        return ExitCode.FINDINGS
    return ExitCode.OK
