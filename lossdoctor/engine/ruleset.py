"""Rule files: load them with a safe YAML loader and validate every key up front.

A rule file holds one rule (a mapping) or several (`rules: [...]`). Thresholds are
declared once under `params:` (with the reason for each value in a comment) and used in
`when:` as `$name`, so a project config can override them by name. Errors name the file,
the rule id and the key path: `rules/x.yaml: rule overfitting: when.all[1]: unknown
predicate 'val_rise'`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..findings import Severity
from .predicates import PREDICATES, Param
from .subject import SLOTS
from .template import check_template

RULE_KEYS = {"id", "title", "severity", "for_each", "when", "message", "remedies",
             "params", "metadata", "description", "aliases"}
REQUIRED = ("id", "title", "severity", "when", "message", "remedies")
# main: the run's main train/val pair; pair: every train/val pair (main, then each loss
# term); series: every loss series and the gradient norm on its own.
FOR_EACH = ("main", "pair", "series")


@dataclass(frozen=True)
class Remedy:
    """A remedy line; `fallback` is used when the evidence lacks a field `text` needs."""

    text: str
    fallback: str | None = None


@dataclass(frozen=True)
class Rule:
    """One validated rule, ready for the engine."""

    id: str
    title: str
    severity: Severity
    when: Any
    messages: tuple[str, ...]
    remedies: tuple[Remedy, ...]
    params: dict[str, Any] = field(default_factory=dict)
    for_each: str = "main"
    description: str = ""
    knowledge: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    source: str = ""

    def with_overrides(self, severity: Severity | None, params: dict[str, Any]) -> "Rule":
        """A copy with a project's severity and threshold overrides (already validated)."""
        merged = {**self.params, **params}
        return replace(self, severity=severity or self.severity, params=merged)


def load_rule_files(paths: list[Path]) -> list[Rule]:
    """Load and validate every rule in the given files; duplicate ids are an error."""
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path in paths:
        for rule in load_rule_file(path):
            if rule.id in seen:
                raise ConfigError(f"{path}: rule {rule.id}: id already defined in {seen[rule.id]}")
            seen[rule.id] = str(path)
            rules.append(rule)
    return rules


# libyaml's safe loader when PyYAML has it: 10x faster, and rule files are read on every run.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_rule_file(path: Path) -> list[Rule]:
    """Parse one YAML rule file (safe loader: tags like !!python/object are rejected)."""
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read rule file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None
    items = doc.get("rules") if isinstance(doc, dict) and "rules" in doc else [doc]
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{path}: expected a rule mapping or 'rules: [...]'")
    return [parse_rule(item, f"{path}", i if len(items) > 1 else None) for i, item in enumerate(items)]


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{what} (line {mark.line + 1})" if mark else what


def parse_rule(raw: Any, where: str, index: int | None = None) -> Rule:
    """Validate one rule mapping; `where` names the file in error messages."""
    if not isinstance(raw, dict):
        at = f"rules[{index}]" if index is not None else "top level"
        raise ConfigError(f"{where}: {at}: expected a mapping, got {type(raw).__name__}")
    rid = raw.get("id")
    label = f"{where}: rule {rid}" if isinstance(rid, str) else f"{where}: rule #{index or 0}"
    _check_keys(raw, label)
    params = _check_params(raw.get("params") or {}, label)
    for_each = raw.get("for_each", "main")
    if for_each not in FOR_EACH:
        raise ConfigError(f"{label}: for_each: expected one of {', '.join(FOR_EACH)}, got {for_each!r}")
    check_condition(raw["when"], params, f"{label}: when")
    meta = raw.get("metadata") or {}
    return Rule(
        id=rid, title=_text(raw, "title", label), severity=_severity(raw["severity"], label),
        when=raw["when"], messages=_messages(raw["message"], label),
        remedies=_remedies(raw["remedies"], label), params=params, for_each=for_each,
        description=str(raw.get("description", "")).strip(),
        knowledge=tuple(str(k) for k in meta.get("knowledge", [])),
        tags=tuple(str(t) for t in meta.get("tags", [])),
        aliases=tuple(str(a) for a in raw.get("aliases", [])), source=where,
    )


def _check_keys(raw: dict, label: str) -> None:
    unknown = sorted(set(map(str, raw)) - RULE_KEYS)
    if unknown:
        raise ConfigError(f"{label}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(RULE_KEYS))})")
    for key in REQUIRED:
        if key not in raw:
            raise ConfigError(f"{label}: missing required key '{key}'")
    if not isinstance(raw["id"], str) or not raw["id"].replace("_", "").isalnum():
        raise ConfigError(f"{label}: id: expected a snake_case name, got {raw['id']!r}")


def _text(raw: dict, key: str, label: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{label}: {key}: expected a non-empty string")
    return value.strip()


def _messages(value: Any, label: str) -> tuple[str, ...]:
    """One template, or a list tried in order (the first whose fields the evidence has)."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(t, str) and t.strip() for t in items):
        raise ConfigError(f"{label}: message: expected a non-empty string or list of strings")
    for i, text in enumerate(items):
        check_template(text, f"{label}: message" + (f"[{i}]" if isinstance(value, list) else ""))
    return tuple(t.strip() for t in items)


def _severity(value: Any, label: str) -> Severity:
    try:
        return Severity.parse(str(value))
    except ValueError as exc:
        raise ConfigError(f"{label}: severity: {exc}") from None


def _remedies(value: Any, label: str) -> tuple[Remedy, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{label}: remedies: expected a non-empty list")
    out = []
    for i, item in enumerate(value):
        where = f"{label}: remedies[{i}]"
        if isinstance(item, str):
            check_template(item, where)
            out.append(Remedy(item.strip()))
        elif isinstance(item, dict) and set(item) <= {"text", "fallback"} and "text" in item:
            check_template(str(item["text"]), where)
            fallback = item.get("fallback")
            if fallback is not None:
                check_template(str(fallback), f"{where}.fallback")
            out.append(Remedy(str(item["text"]).strip(), fallback and str(fallback).strip()))
        else:
            raise ConfigError(f"{where}: expected a string or {{text, fallback}}")
    return tuple(out)


def _check_params(params: Any, label: str) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise ConfigError(f"{label}: params: expected a mapping of name: value")
    for name, value in params.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{label}: params.{name}: expected a number, got {value!r}")
    return dict(params)


def check_condition(node: Any, params: dict[str, Any], where: str) -> None:
    """Validate a `when:` tree: all/any/not over registered predicates with known params."""
    if isinstance(node, str):
        node = {node: {}}
    if not isinstance(node, dict) or len(node) != 1:
        raise ConfigError(f"{where}: expected one of all/any/not or a predicate name")
    (key, arg), = node.items()
    if key in ("all", "any"):
        if not isinstance(arg, list) or not arg:
            raise ConfigError(f"{where}.{key}: expected a non-empty list")
        for i, child in enumerate(arg):
            check_condition(child, params, f"{where}.{key}[{i}]")
    elif key == "not":
        check_condition(arg, params, f"{where}.not")
    elif key in PREDICATES:
        _check_args(key, arg, params, f"{where}.{key}")
    else:
        raise ConfigError(f"{where}: unknown predicate '{key}'")


def _check_args(name: str, args: Any, params: dict[str, Any], where: str) -> None:
    spec = PREDICATES[name].params
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise ConfigError(f"{where}: expected a mapping of parameters")
    for key, value in args.items():
        if key not in spec:
            raise ConfigError(f"{where}: unknown parameter '{key}' (allowed: {', '.join(spec) or 'none'})")
        if isinstance(value, str) and value.startswith("$"):
            if value[1:] not in params:
                raise ConfigError(f"{where}.{key}: '{value}' is not declared under params")
            value = params[value[1:]]
        problem = param_problem(spec[key], value)
        if problem:
            raise ConfigError(f"{where}.{key}: {problem}")
    missing = [k for k, p in spec.items() if p.default is None and k not in args]
    if missing:
        raise ConfigError(f"{where}: missing parameter '{missing[0]}'")


def param_problem(param: Param, value: Any) -> str | None:
    """Why `value` does not fit a parameter of this kind, or None when it does."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if param.kind == "slot":
        return None if value in SLOTS else f"expected one of {', '.join(SLOTS)}, got {value!r}"
    if param.kind == "names":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else f"expected a list of names, got {value!r}"
    if not number or value != value:
        return f"expected a number, got {value!r}"
    if param.kind == "count" and (int(value) != value or value < 1):
        return f"expected a positive integer, got {value!r}"
    if param.kind == "fraction" and not 0 <= value <= 1:
        return f"expected a fraction between 0 and 1, got {value!r}"
    if param.kind == "ratio" and value < 1:
        return f"expected a ratio of at least 1, got {value!r}"
    return None
