"""Rule files: load them with a safe YAML loader and validate every key up front.

A rule file holds one rule (a mapping) or several (`rules: [...]`). Thresholds are
declared once under `params:` (with the reason for each value in a comment) and used in
`when:` as `$name`, so a project config can override them by name. Errors name the file,
the rule id and the key path: `rules/x.yaml: rule overfitting: when.all[1]: unknown
predicate 'val_rise'`.

Validation collects every problem of a file (`load_rule_file` with a `problems` list;
`rulefiles.rule_problems` for several files); without the list the first is raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from ..findings import Severity
from ..safeyaml import load_yaml
from .conditions import Node, bind, parse_when
from .template import check_template

RULE_KEYS = {"id", "title", "severity", "for_each", "when", "message", "remedies",
             "params", "metadata", "description", "aliases", "whole_run", "summary", "milder"}
# `milder:` the same reading, weaker, at a lower severity: tried when `when:` does not hold.
MILDER_KEYS = {"severity", "when", "message", "title", "summary"}
MILDER_REQUIRED = ("severity", "when", "message")
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
class Milder:
    """A rule's weaker reading (overfitting that has begun, not yet a rise): its own
    condition, severity (below the rule's), title and messages; the remedies are the rule's.
    Alerting tools do the same with one alert name at two thresholds and two severities."""

    severity: Severity
    when: Node
    messages: tuple[str, ...]
    title: str  # the rule's own when the file gives none
    summary: str = ""


@dataclass(frozen=True)
class Rule:
    """One validated rule, ready for the engine."""

    id: str
    title: str
    severity: Severity
    when: Node  # the `when:` tree, parsed and bound to `params`
    messages: tuple[str, ...]
    remedies: tuple[Remedy, ...]
    params: dict[str, Any] = field(default_factory=dict)
    for_each: str = "main"
    description: str = ""
    knowledge: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    source: str = ""
    # A reading of the whole course of training (too slow, underfit, plateaued): on a run still
    # being written (watch, the callbacks) every prefix looks slow and unfinished, so such a
    # rule waits for the run to end.
    whole_run: bool = False
    # The finding in a few words, for a story's timeline ("{metric} is NaN/Inf from step {step}").
    summary: str = ""
    milder: Milder | None = None

    def with_overrides(self, severity: Severity | None, params: dict[str, Any]) -> "Rule":
        """A copy with a project's severity and threshold overrides (already validated). The
        milder reading keeps its severity, never above the rule's."""
        merged = {**self.params, **params}
        severity = severity or self.severity
        milder = self.milder and replace(self.milder, when=bind(self.milder.when, merged),
                                         severity=min(self.milder.severity, severity))
        return replace(self, severity=severity, params=merged, when=bind(self.when, merged), milder=milder)

    def conditions(self) -> tuple[Node, ...]:
        """Every condition tree of the rule: `when:`, then the milder reading's."""
        return (self.when,) if self.milder is None else (self.when, self.milder.when)

    def as_milder(self) -> "Rule":
        """The rule as its milder reading stamps a finding: that reading's severity, title,
        condition and messages, the rule's id and remedies."""
        m = self.milder
        assert m is not None
        return replace(self, severity=m.severity, title=m.title, when=m.when, messages=m.messages,
                       summary=m.summary, milder=None)


def load_rule_file(path: Path, problems: list[str] | None = None) -> list[Rule]:
    """Parse one YAML rule file (safeyaml's loader: no tags like !!python/object, no aliases,
    no duplicate keys).

    With a `problems` list, each rule's problems are added to it and only the valid rules
    are returned; a file that cannot be read or parsed raises either way.
    """
    doc = load_yaml(path, "rule file")
    items = doc.get("rules") if isinstance(doc, dict) and "rules" in doc else [doc]
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{path}: expected a rule mapping or 'rules: [...]'")
    rules = [parse_rule(item, f"{path}", i if len(items) > 1 else None, problems)
             for i, item in enumerate(items)]
    return [r for r in rules if r is not None]


def parse_rule(raw: Any, where: str, index: int | None = None,
               problems: list[str] | None = None) -> Rule | None:
    """Validate one rule mapping; `where` names the file in error messages.

    Without `problems`, the first problem is raised; with it, every problem is added
    to it and None is returned when the rule has any.
    """
    if problems is None:
        problems = []
        rule = parse_rule(raw, where, index, problems)
        if problems:
            raise ConfigError(problems[0])
        return rule
    if not isinstance(raw, dict):
        at = f"rules[{index}]" if index is not None else "top level"
        problems.append(f"{where}: {at}: expected a mapping, got {type(raw).__name__}")
        return None
    rid = raw.get("id")
    label = f"{where}: rule {rid}" if isinstance(rid, str) else f"{where}: rule #{index or 0}"
    before = len(problems)
    check = partial(_checked, problems)
    check(_check_keys, raw, label)
    params = check(_check_params, raw.get("params") or {}, label)
    if params is None:  # reported; its names still bind, so `when:` is checked as well
        params = raw["params"] if isinstance(raw.get("params"), dict) else {}
    for_each = raw.get("for_each", "main")
    if for_each not in FOR_EACH:
        problems.append(f"{label}: for_each: expected one of {', '.join(FOR_EACH)}, got {for_each!r}")
    when = parse_when(raw["when"], params, f"{label}: when", problems) if "when" in raw else None
    title = check(_text, raw, "title", label) if "title" in raw else None
    severity = check(_severity, raw["severity"], label) if "severity" in raw else None
    messages = check(_messages, raw["message"], label) if "message" in raw else None
    remedies = check(_remedies, raw["remedies"], label) if "remedies" in raw else None
    meta = check(_metadata, raw.get("metadata") or {}, label)
    aliases = check(_names, raw.get("aliases", []), f"{label}: aliases")
    summary = check(_summary, raw.get("summary", ""), label)
    whole_run = raw.get("whole_run", False)
    if not isinstance(whole_run, bool):
        problems.append(f"{label}: whole_run: expected true or false, got {whole_run!r}")
    milder = _milder(raw["milder"], params, severity, title, label, problems) if "milder" in raw else None
    if len(problems) > before:
        return None
    return Rule(
        id=rid, title=title, severity=severity, when=when, messages=messages, remedies=remedies,
        params=params, for_each=for_each, description=str(raw.get("description", "")).strip(),
        knowledge=meta["knowledge"], tags=meta["tags"], aliases=aliases, source=where,
        whole_run=whole_run, summary=summary, milder=milder,
    )


def _milder(raw: Any, params: dict[str, Any], severity: Severity | None, rule_title: str | None,
            label: str, problems: list[str]) -> Milder | None:
    """`milder: {severity, when, message, title?, summary?}`, checked like the rule's own keys."""
    where = f"{label}: milder"
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping ({', '.join(sorted(MILDER_KEYS))})")
        return None
    check = partial(_checked, problems)
    before = len(problems)
    check(_known_keys, raw, MILDER_KEYS, MILDER_REQUIRED, where)
    if len(problems) > before:
        return None
    when = parse_when(raw["when"], params, f"{where}.when", problems)
    level = check(_severity, raw["severity"], where)
    messages = check(_messages, raw["message"], where)
    title = check(_text, raw, "title", where) if "title" in raw else rule_title
    summary = check(_summary, raw.get("summary", ""), where)
    if level is not None and severity is not None and level >= severity:
        problems.append(f"{where}: severity: expected below the rule's ({severity.label}), got {level.label}")
    if len(problems) > before:
        return None
    return Milder(level, when, messages, title, summary)


def _checked(problems: list[str], check: Callable[..., Any], *args: Any) -> Any:
    """`check(*args)`, with a ConfigError it raises added to `problems` (and None returned)."""
    try:
        return check(*args)
    except ConfigError as exc:
        problems.append(exc.message)
        return None


def _check_keys(raw: dict, label: str) -> None:
    _known_keys(raw, RULE_KEYS, REQUIRED, label)
    if not isinstance(raw["id"], str) or not raw["id"].replace("_", "").isalnum():
        raise ConfigError(f"{label}: id: expected a snake_case name, got {raw['id']!r}")


def _known_keys(raw: dict, allowed: set[str], required: tuple[str, ...], label: str) -> None:
    """Every key is one of `allowed` and every one of `required` is there."""
    unknown = sorted(set(map(str, raw)) - allowed)
    if unknown:
        raise ConfigError(f"{label}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})")
    for key in required:
        if key not in raw:
            raise ConfigError(f"{label}: missing required key '{key}'")


def _text(raw: dict, key: str, label: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{label}: {key}: expected a non-empty string")
    return value.strip()


def _summary(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{label}: summary: expected a string, got {value!r}")
    check_template(value, f"{label}: summary")
    return value


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


def _names(value: Any, where: str) -> tuple[str, ...]:
    """A list of names (aliases, tags, knowledge-base ids)."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: expected a list of names, got {value!r}")
    return tuple(value)


def _metadata(meta: Any, label: str) -> dict[str, tuple[str, ...]]:
    """`metadata:`: knowledge-base ids and tags (what `--ignore TAG` and friends select by)."""
    if not isinstance(meta, dict):
        raise ConfigError(f"{label}: metadata: expected a mapping (knowledge, tags), got {meta!r}")
    return {key: _names(meta.get(key, []), f"{label}: metadata.{key}") for key in ("knowledge", "tags")}
