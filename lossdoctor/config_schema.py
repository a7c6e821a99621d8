"""The config schema: one layer's keys checked for shape, then rule overrides checked
against the loaded rules (ids, severities, thresholds by their predicate parameter kinds).

Every error names the file and the key path inside it:
`lossdoctor.yaml: rules.overfitting.min_rise: expected a fraction between 0 and 1, got 3`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engine import PREDICATES, Param, Rule, walk
from .errors import ConfigError
from .findings import Severity
from .roles import ROLE_NAMES

KEYS = ("fail-on", "ignore", "rules", "metrics", "rule-paths")


@dataclass(frozen=True)
class Layer:
    """One config file, checked for shape; rule ids are checked once all rules are loaded."""

    name: str  # the file, as errors show it
    prefix: str = ""  # key path of the settings inside the file ('tool.lossdoctor.' in pyproject)
    fail_on: str | None = None
    ignore: tuple[str, ...] = ()
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)
    rule_paths: tuple[Path, ...] = ()  # resolved against the file's folder

    def where(self, key: str) -> str:
        """`lossdoctor.yaml: rules.overfitting` - the located prefix of an error message."""
        return f"{self.name}: {self.prefix}{key}"


def parse_layer(doc: Any, name: str, prefix: str, base: Path) -> Layer:
    """Check one file's settings mapping; `base` is the folder rule-paths are relative to."""
    top = Layer(name, prefix)
    if doc is None:
        return top
    if not isinstance(doc, dict):
        raise ConfigError(f"{name}: {prefix.rstrip('.') or 'top level'}: expected a mapping of settings, "
                          f"got {type(doc).__name__}")
    unknown = sorted(str(k) for k in doc if k not in KEYS)
    if unknown:
        at = f"{prefix.rstrip('.')}: " if prefix else ""
        raise ConfigError(f"{name}: {at}unknown key '{unknown[0]}' "
                          f"({suggest(unknown[0], KEYS) or 'allowed: ' + ', '.join(KEYS)})")
    rules = doc.get("rules") or {}
    if not isinstance(rules, dict):
        raise ConfigError(f"{top.where('rules')}: expected a mapping of rule id: settings")
    for rid, spec in rules.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{top.where(f'rules.{rid}')}: expected a mapping of severity and "
                              f"thresholds, got {spec!r}")
    return Layer(name, prefix, _fail_on(doc.get("fail-on"), top), _names(doc.get("ignore"), top, "ignore"),
                 {str(k): dict(v) for k, v in rules.items()}, _metrics(doc.get("metrics"), top),
                 tuple(base / p for p in _names(doc.get("rule-paths"), top, "rule-paths")))


def _fail_on(value: Any, top: Layer) -> str | None:
    """A severity or rule ids, as a string or a list; FailOn.parse judges the words."""
    if value is None:
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return ",".join(value)
    if isinstance(value, str) and value.strip():
        return value
    raise ConfigError(f"{top.where('fail-on')}: expected a severity (info, warning, error, never) "
                      f"or a list of rule ids, got {value!r}")


def _names(value: Any, top: Layer, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{top.where(key)}: expected a list, got {value!r}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{top.where(f'{key}[{i}]')}: expected a non-empty string, got {item!r}")
    return tuple(value)


def _metrics(value: Any, top: Layer) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{top.where('metrics')}: expected a mapping of role: series name")
    for role, name in value.items():
        if role not in ROLE_NAMES:
            hint = suggest(str(role), ROLE_NAMES)
            raise ConfigError(f"{top.where(f'metrics.{role}')}: unknown role '{role}' "
                              f"({hint + ' ' if hint else ''}roles: {', '.join(ROLE_NAMES)})")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{top.where(f'metrics.{role}')}: expected a series name, got {name!r}")
    return {str(k): str(v).strip() for k, v in value.items()}


def suggest(word: str, choices: Any) -> str:
    """`did you mean 'overfitting'?` for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


def threshold_kinds(rule: Rule) -> dict[str, list[Param]]:
    """Each threshold under the rule's params: the predicate parameters it is passed to."""
    uses: dict[str, list[Param]] = {name: [] for name in rule.params}
    for call in (c for tree in rule.conditions() for c in walk(tree)):
        for arg, name in call.refs.items():
            uses[name].append(PREDICATES[call.name].params[arg])
    return uses


def check_override(layer: Layer, key: str, rule: Rule, spec: dict[str, Any]) -> tuple[Severity | None, dict]:
    """One `rules.<key>` entry (a rule id, alias or tag naming `rule`): its severity and
    thresholds, validated against the rule."""
    at = f"rules.{key}"
    severity = None
    if "severity" in spec:
        try:
            severity = Severity.parse(str(spec["severity"]))
        except ValueError as exc:
            raise ConfigError(f"{layer.where(at + '.severity')}: {exc}") from None
    kinds = threshold_kinds(rule)
    params = {k: v for k, v in spec.items() if k != "severity"}
    for key, value in params.items():
        if key not in kinds:
            has = ", ".join(kinds) or "no thresholds"
            raise ConfigError(f"{layer.where(f'{at}.{key}')}: unknown threshold ({rule.id} has: {has})")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        problems = [p.problem(value) for p in kinds[key]] or \
            [None if number else f"expected a number, got {value!r}"]
        problem = next((p for p in problems if p), None)
        if problem:
            raise ConfigError(f"{layer.where(f'{at}.{key}')}: {problem}")
    return severity, params
