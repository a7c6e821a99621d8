"""Where the packaged rules live, and the rule set they make."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from .ruleset import Rule, load_rule_files


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
