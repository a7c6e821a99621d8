"""`lossdoctor rules`: list the rules, explain one (`show ID`), validate custom rule files (`check`).

Listings honour the config (severity and threshold overrides, extra rule folders), so
`rules show` explains the rule as `diagnose` will run it.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import click

from ..config import Config, rule_files
from ..engine import PREDICATES, All, Call, Node, Not, Rule, default_rules
from ..engine.template import format_value
from ..errors import ConfigError
from ..exitcodes import ExitCode
from ..engine.rulefiles import check_rule_files
from ..knowledge import lookup
from ..numfmt import json_number, plural
from ..report.escape import text as safe
from .common import resolve

FOR_EACH = {"main": "the run's main train/val pair", "pair": "every train/val pair (main, then each loss term)",
            "series": "every loss series and the gradient norm"}


def list_rules(config_file: Path | None, rule_paths: tuple[Path, ...], fmt: str = "text") -> ExitCode:
    """A table of id, severity and title, worst first; overrides and ignores marked."""
    config = resolve(config_file, None, rule_paths=rule_paths).config  # validates fail-on too
    rows = sorted(config.rules, key=lambda r: -r.severity)
    if fmt == "json":
        click.echo(json.dumps({"version": 1, "rules": [rule_dict(r, config) for r in rows]}, indent=2))
        return ExitCode.OK
    width = max(len(r.id) for r in rows)
    click.echo(f"{'id':<{width}}  {'severity':<9} title")
    for r in rows:
        mark = "*" if "severity" in config.origins.get(r.id, {}) else ""
        note = "  (ignored)" if r.id in config.ignore else ""
        click.echo(f"{r.id:<{width}}  {r.severity.label + mark:<9} {r.title}{note}")
    used = f"; config: {', '.join(config.sources)}" if config.sources else ""
    starred = " (* severity set by the config)" if any("severity" in o for o in config.origins.values()) else ""
    click.echo(f"\n{len(rows)} rules{used}{starred}. More: lossdoctor rules show ID")
    return ExitCode.OK


def show_rule(rule_id: str, config_file: Path | None, rule_paths: tuple[Path, ...]) -> ExitCode:
    """Explain one rule (or each rule with a tag): meaning, evidence (its when: tree),
    thresholds, remedies, knowledge."""
    config = resolve(config_file, None, rule_paths=rule_paths).config  # validates fail-on too
    shown = [explain(rule, config) for rule in find_rules(rule_id, config)]
    click.echo("\n\n".join("\n".join(lines) for lines in shown))
    return ExitCode.OK


def rule_dict(rule: Rule, config: Config) -> dict[str, Any]:
    """One rule for `rules --format json`: as the config has it (overrides applied)."""
    return {"id": rule.id, "title": rule.title, "severity": rule.severity.label, "for_each": rule.for_each,
            "params": {k: json_number(v) for k, v in rule.params.items()}, "knowledge": list(rule.knowledge),
            "tags": list(rule.tags), "aliases": list(rule.aliases), "ignored": rule.id in config.ignore,
            "source": rule.source,
            "milder": None if rule.milder is None else {"title": rule.milder.title,
                                                         "severity": rule.milder.severity.label}}


def check_rules(paths: tuple[Path, ...]) -> ExitCode:
    """Validate custom rule files or folders and list every error in every file (each
    broken rule of a file of several), not only the first; a clash of ids is an error too."""
    files = [f for p in paths for f in rule_files(p, str(p))]
    if not files:
        raise ConfigError(f"{', '.join(map(str, paths))}: no *.yaml rule files")
    packaged = {r.id: r.source for r in default_rules()}
    rules, errors = check_rule_files(files)
    errors += [f"{r.source}: rule {r.id}: id already defined in {packaged[r.id]}" for r in rules
               if r.id in packaged and Path(r.source).resolve() != Path(packaged[r.id]).resolve()]
    if errors:
        for line in errors[:-1]:
            click.echo(f"lossdoctor: error: {safe(line)}", err=True)
        count = f" ({plural(len(errors), 'error')} in {plural(len(files), 'file')})" if len(errors) > 1 else ""
        raise ConfigError(errors[-1] + count)
    click.echo(f"{plural(len(rules), 'rule')} OK")
    return ExitCode.OK


def find_rules(token: str, config: Config) -> list[Rule]:
    """The rule with this id or alias, or every rule with this tag."""
    by_id = {r.id: r for r in config.rules}
    return [by_id[rid] for rid in config.index.ids(token, f"rules show {token}")]


def explain(rule: Rule, config: Config) -> list[str]:
    """The lines of `rules show`."""
    origin = config.origins.get(rule.id, {})
    sev = f" (set by {origin['severity']})" if "severity" in origin else ""
    out = [f"{rule.id} — {rule.title}",
           f"severity: {rule.severity.label}{sev} · judged on {FOR_EACH[rule.for_each]}"
           + ("  (ignored by the config)" if rule.id in config.ignore else ""),
           f"file: {rule.source}", "", "What it means:"]
    out += textwrap.wrap(rule.description or rule.title, 88, initial_indent="  ", subsequent_indent="  ")
    out += ["", "Evidence (it fires when):", *when_lines(rule.when, 1)]
    if rule.milder is not None:
        m = rule.milder
        out += ["", f"Else, as {m.title!r} at {m.severity.label} (the milder reading), when:",
                *when_lines(m.when, 1)]
    if rule.params:
        notes = threshold_notes(rule)
        out += ["", "Thresholds (override under rules." + rule.id + " in lossdoctor.yaml):"]
        for name, value in rule.params.items():
            by = f"  (set by {origin[name]})" if name in origin else ""
            out.append(f"  {name} = {format_value(value)}{by}")
            out += textwrap.wrap(notes.get(name, ""), 84, initial_indent="      ", subsequent_indent="      ")
    out += ["", "What to do ({fields} are filled from the run's evidence):",
            *[f"  • {r.text}" for r in rule.remedies]]
    out += ["", "Knowledge base (lossdoctor explain ID):" if rule.knowledge else "Knowledge base: none"]
    for key in rule.knowledge:
        entry = lookup(key)
        out.append(f"  {key:<4} {entry.title if entry else '(not in the knowledge base)'}")
    if rule.tags:
        out.append(f"Tags: {', '.join(rule.tags)}")
    return out


def when_lines(node: Node, depth: int) -> list[str]:
    """A `when:` tree as indented text, with each predicate's arguments and what it checks."""
    pad = "  " * depth + ("- " if depth > 1 else "")
    if isinstance(node, Not):
        return [f"{pad}not:"] + when_lines(node.child, depth + 1)
    if not isinstance(node, Call):
        head = f"{pad}{'all' if isinstance(node, All) else 'any'} of:"
        return [head] + [line for child in node.children for line in when_lines(child, depth + 1)]
    args = ", ".join(f"{k}={_arg(node, k)}" for k in node.args)
    indent = " " * (len(pad) + 2)
    return [f"{pad}{node.name}({args})", *textwrap.wrap(PREDICATES[node.name].summary, 92 - len(indent),
                                                        initial_indent=indent, subsequent_indent=indent)]


def _arg(call: Call, key: str) -> str:
    """An argument as written: a bound `$param` by its value (and its name when it differs)."""
    value, ref = call.args[key], call.refs.get(key)
    if ref is not None:
        return format_value(value) if ref == key else f"{format_value(value)} (${ref})"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def threshold_notes(rule: Rule) -> dict[str, str]:
    """The comment lines above each threshold under the rule's `params:` (why that value)."""
    try:
        lines = Path(rule.source).read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    start = next((i for i, line in enumerate(lines)
                  if re.match(rf"\s*(- )?id:\s*['\"]?{rule.id}['\"]?\s*$", line)), 0)
    notes: dict[str, str] = {}
    pending: list[str] = []
    indent = None
    for line in lines[start:]:
        if indent is None:
            m = re.match(r"(\s*)params:\s*$", line)
            indent = len(m.group(1)) if m else None
            continue
        if line.strip() and not line.lstrip().startswith("#") and len(line) - len(line.lstrip()) <= indent:
            break  # the end of the params block
        comment = re.match(r"\s*#\s?(.*)", line)
        key = re.match(r"\s*(\w+)\s*:", line)
        if comment:
            pending.append(comment.group(1))
        elif key and key.group(1) in rule.params:
            notes[key.group(1)], pending = " ".join(pending), []
    return notes
