"""Sets of rule files: loaded together (ids and aliases unique across them), and the
packaged ones."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .ruleset import Rule, load_rule_file


def load_rule_files(paths: list[Path]) -> list[Rule]:
    """Load and validate every rule in the given files; duplicate ids are an error."""
    rules, problems = check_rule_files(paths)
    if problems:
        raise ConfigError(problems[0])
    return rules


def rule_problems(paths: list[Path]) -> list[str]:
    """Every located problem of the given rule files, in order; empty when they all load."""
    return check_rule_files(paths)[1]


def check_rule_files(paths: list[Path]) -> tuple[list[Rule], list[str]]:
    """The valid rules of the files, and every problem: a file that cannot be read, each
    problem of each rule, an id or alias already taken by an earlier rule."""
    rules: list[Rule] = []
    problems: list[str] = []
    names: dict[str, tuple[str, str]] = {}  # id or alias -> (rule id, file)
    for path in paths:
        try:
            found = load_rule_file(path, problems)
        except ConfigError as exc:
            problems.append(exc.message)
            continue
        for rule in found:
            clash = _clash(rule, names)
            if clash:
                problems.append(f"{path}: rule {rule.id}: {clash}")
                continue
            names.update({n: (rule.id, str(path)) for n in (rule.id, *rule.aliases)})
            rules.append(rule)
    return rules, problems


def _clash(rule: Rule, names: dict[str, tuple[str, str]]) -> str | None:
    """Why the rule's id or an alias cannot be used: an earlier rule has it."""
    if rule.id in names:
        other, where = names[rule.id]
        return f"id already defined in {where}" if other == rule.id else \
            f"id already used as an alias of rule {other} in {where}"
    taken = next((a for a in rule.aliases if a in names), None)
    if taken is None:
        return None
    other, where = names[taken]
    return f"alias '{taken}' already names rule {other} in {where}"


def default_rule_dir() -> Path:
    """The packaged rules: `lossdoctor/rulebook/` when installed, `rules/` in a checkout.

    pyproject.toml installs the top-level rules/ folder as the package data folder
    `lossdoctor/rulebook`; an editable install or a source checkout has no such folder.
    """
    here = Path(__file__).resolve().parent.parent  # the lossdoctor package
    installed = here / "rulebook"
    return installed if installed.is_dir() else here.parent / "rules"


def rule_files_in(folder: Path) -> list[Path]:
    """The `*.yaml` / `*.yml` rule files of a folder, in name order."""
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def packaged_rule_files() -> list[Path]:
    """The packaged rule files; a ConfigError when the installation lost them."""
    folder = default_rule_dir()
    if not folder.is_dir():
        raise ConfigError(f"{folder}: packaged rules not found (is lossdoctor installed correctly?)")
    return rule_files_in(folder)


def default_rules() -> list[Rule]:
    """The packaged rule set."""
    return load_rule_files(packaged_rule_files())
