"""The one YAML loader for the files lossdoctor is given (config, rule files, hparams.yaml).

Plain data only: the safe loader (no `!!python/...` tags), and besides
- no aliases (`*name`): a rule's `when:` or a config that refers to itself recurses
  forever, and a few lines of nested aliases (billion laughs) unfold into 10^9 nodes for
  whatever walks the result; plain config never needs them;
- no duplicate keys: `fail-on: never` then `fail-on: info` would silently keep the last;
- UTF-8 text only (a BOM is allowed), and no nesting deeper than libyaml allows (1,000;
  the pure-Python parser, used when PyYAML lacks libyaml, would hit Python's recursion
  limit instead: reported the same way).
Every problem is a ConfigError naming the file and, where there is one, the line.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

from .errors import ConfigError

# libyaml's parser when PyYAML has it: 10x faster (rule files are read on every run), and
# it refuses nesting beyond 1,000 levels by itself.
_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Refused(ConstructorError):
    """A construct plain config does not allow (an alias, a duplicate key): said as it is."""


class SafeLoader(_BASE):  # type: ignore[misc, valid-type]
    """The safe loader without aliases or duplicate keys."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # An alias is the same node met twice (the composer shares it): refuse it at the
        # second visit, before anything walks the shared (or cyclic) structure.
        if node in self.constructed_objects or node in self.recursive_objects:
            raise _Refused(None, None, "aliases (*name) are not allowed", node.start_mark)
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        if isinstance(node, MappingNode):
            self.flatten_mapping(node)  # `<<:` merge keys; their aliases are refused above
        mapping: dict = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                raise ConstructorError("while constructing a mapping", node.start_mark,
                                       "found unhashable key", key_node.start_mark)
            if key in mapping:
                raise _Refused(None, None, f"duplicate key '{key}'", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


def load_yaml(path: Path, what: str = "file") -> Any:
    """The document of a YAML file; a ConfigError naming `path` (and the line) for any problem.

    `what` names the kind of file in the error for a file that cannot be read ("config file").
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({(exc.strerror or str(exc)).lower()})") from None
    return parse_yaml(data, str(path))


def parse_yaml(data: bytes, where: str) -> Any:
    """The document of YAML bytes (see the module docstring); `where` names them in errors."""
    text = _utf8(data, where)
    try:
        return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - our safe loader
    except _Refused as exc:
        raise ConfigError(f"{where}: line {_line(exc.problem_mark)}: {exc.problem}") from None
    except ConstructorError as exc:
        tag = re.search(r"'([^']*)'", str(exc.problem))
        shown = tag.group(1).replace("tag:yaml.org,2002:", "!!") if tag else "?"
        raise ConfigError(f"{where}: line {_line(exc.problem_mark)}: tag '{shown}' is not allowed "
                          "(config files are plain YAML)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {what}" + (f" (line {mark.line + 1})" if mark else "")) \
            from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid YAML: nested too deeply") from None
    except ValueError as exc:  # a value the constructor cannot build: an int past Python's digit limit, a bad date
        raise ConfigError(f"{where}: not valid YAML: {_value_problem(exc)}") from None


def _value_problem(exc: ValueError) -> str:
    text = str(exc)
    if "integer string conversion" in text:
        return "an integer of more than 4,300 digits"
    return text.splitlines()[0] if text else "a value that cannot be read"


def _utf8(data: bytes, where: str) -> str:
    """The text of a config file: UTF-8 only, so a file reads the same everywhere."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(f"{where}: UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text (byte {exc.start:,}); save it as UTF-8") from None


def _line(mark: Any) -> object:
    return mark.line + 1 if mark is not None else "?"
