"""Configuration, layered: packaged defaults <- project file <- --config FILE (<- flags,
applied by the commands).

The project file is the nearest `lossdoctor.yaml`, or `pyproject.toml` with a
`[tool.lossdoctor]` table, walking up from the current folder (in one folder the YAML
file wins). Later layers win: `fail-on` and each rule's severity/thresholds are replaced,
`metrics` are merged by role, `ignore` and `rule-paths` add up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .config_schema import Layer, check_override, parse_layer
from .errors import ConfigError
from .safeyaml import load_yaml
from .engine import Rule, RuleIndex, load_rule_files, packaged_rule_files, rule_files_in

try:
    import tomllib as _toml
except ModuleNotFoundError:  # Python 3.10: tomli if installed
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ModuleNotFoundError:
        _toml = None  # type: ignore[assignment]

PROJECT_FILE = "lossdoctor.yaml"


@dataclass(frozen=True)
class Config:
    """The resolved file layers: rules with overrides applied, and what the flags build on."""

    rules: tuple[Rule, ...]
    ignore: frozenset[str] = frozenset()
    metrics: dict[str, str] = field(default_factory=dict)
    fail_on: tuple[tuple[str, str], ...] = ()  # (where, value) per layer that sets it, lowest first
    sources: tuple[str, ...] = ()  # the config files used, lowest first
    origins: dict[str, dict[str, str]] = field(default_factory=dict)  # rule -> key -> file that set it

    @cached_property
    def index(self) -> RuleIndex:
        """The rules by id, alias and tag: how flags and `rules show` name them."""
        return RuleIndex(self.rules)


def load_config(config_file: Path | None = None, extra_rules: tuple[Path, ...] = (),
                cwd: Path | None = None) -> Config:
    """Find, read and validate every config layer; `extra_rules` are `--rules` paths."""
    cwd = Path.cwd() if cwd is None else cwd
    layers = [layer for layer in (project_layer(cwd), explicit_layer(config_file)) if layer]
    files = [f for layer in layers for i, p in enumerate(layer.rule_paths)
             for f in rule_files(p, f"{layer.where(f'rule-paths[{i}]')}: {p}")]
    files += [f for p in extra_rules for f in rule_files(p, str(p))]
    rules = load_rule_files(packaged_rule_files() + files)
    index = RuleIndex(rules)
    rules, origins = _with_overrides(rules, layers, index)
    ignore = frozenset().union(*(index.select(layer.ignore, lambda i, _, at=layer: at.where(f"ignore[{i}]"))
                                 for layer in layers))
    metrics = {k: v for layer in layers for k, v in layer.metrics.items()}
    fail_on = tuple((layer.where("fail-on"), layer.fail_on) for layer in layers if layer.fail_on)
    return Config(tuple(rules), ignore, metrics, fail_on, tuple(layer.name for layer in layers), origins)


def _with_overrides(rules: list[Rule], layers: list[Layer], index: RuleIndex
                    ) -> tuple[list[Rule], dict[str, dict[str, str]]]:
    """The rules with each layer's `rules:` settings applied (a key may be an id, alias or
    tag), and which file set each rule's keys."""
    by_id = {r.id: r for r in rules}
    overrides: dict[str, tuple[Any, dict]] = {}
    origins: dict[str, dict[str, str]] = {}
    for layer in layers:
        for key, spec in layer.rules.items():
            for rid in index.ids(key, layer.where(f"rules.{key}")):
                severity, params = check_override(layer, key, by_id[rid], spec)
                old_sev, old_params = overrides.get(rid, (None, {}))
                overrides[rid] = (severity or old_sev, {**old_params, **params})
                origins.setdefault(rid, {}).update({k: layer.name for k in spec})
    return [r.with_overrides(*overrides[r.id]) if r.id in overrides else r for r in rules], origins


def rule_files(path: Path, where: str) -> list[Path]:
    """A rule file, or the *.yaml files of a folder; `where` locates the error when neither."""
    if path.is_dir():
        return rule_files_in(path)
    if path.is_file():
        return [path]
    raise ConfigError(f"{where}: no such rule file or folder")


def project_layer(cwd: Path) -> Layer | None:
    """The nearest lossdoctor.yaml or [tool.lossdoctor], walking up from `cwd`."""
    for folder in (cwd, *cwd.parents):
        if (folder / PROJECT_FILE).is_file():
            return yaml_layer(_shown(folder / PROJECT_FILE, cwd))
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            table = pyproject_table(_shown(pyproject, cwd))
            if table is not None:
                return parse_layer(table, str(_shown(pyproject, cwd)), "tool.lossdoctor.",
                                   _shown(folder, cwd))
    return None


def explicit_layer(path: Path | None) -> Layer | None:
    """`--config FILE`: YAML, or a .toml file's [tool.lossdoctor] table."""
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file (--config)")
    if path.suffix != ".toml":
        return yaml_layer(path)
    table = pyproject_table(path)
    if table is None:
        raise ConfigError(f"{path}: no [tool.lossdoctor] table")
    return parse_layer(table, str(path), "tool.lossdoctor.", path.parent)


def yaml_layer(path: Path) -> Layer:
    """Read a YAML config file with the one safe loader (safeyaml: plain data only)."""
    return parse_layer(load_yaml(path, "config file"), str(path), "", path.parent)


def pyproject_table(path: Path) -> Any:
    """The [tool.lossdoctor] table of a TOML file, or None when it has none."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8 by definition
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start:,}); save it as UTF-8") from None
    if _toml is None:
        if re.search(r"^\s*\[\s*tool\.lossdoctor\b", text, re.M):
            raise ConfigError(f"{path}: [tool.lossdoctor] needs Python 3.11 or the tomli package "
                              "(pip install tomli)")
        return None
    try:
        doc = _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    except ValueError:  # TOMLDecodeError is one; what is left is an int past Python's digit limit
        raise ConfigError(f"{path}: not valid TOML: an integer of more than 4,300 digits") from None
    tool = doc.get("tool")
    return tool.get("lossdoctor") if isinstance(tool, dict) else None


def _shown(path: Path, cwd: Path) -> Path:
    """A discovered path as errors show it: relative to the current folder when below it."""
    try:
        return path.relative_to(cwd)
    except ValueError:
        return path
