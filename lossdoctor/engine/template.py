"""Message templates with a restricted formatter.

Rule files are data written by users, so `{x.__class__}`-style attribute or index access
must never reach Python objects: a field is a bare name looked up in a dict of evidence
numbers, with an optional numeric format spec, and nothing else.
"""

from __future__ import annotations

import re
import string
from typing import Any, Mapping

from .. import numfmt
from ..errors import ConfigError

FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
SPEC = re.compile(r"[<>^=]?[+\- ]?,?(\d{1,2})?(\.\d{1,2})?[eEfFgGd%,]?\Z")
_PARSER = string.Formatter()


class MissingField(KeyError):
    """A template needs a value the evidence does not hold."""


def check_template(text: str, where: str) -> None:
    """Reject any field that is not a bare name with a plain numeric format spec."""
    try:
        parts = list(_PARSER.parse(text))
    except ValueError as exc:
        raise ConfigError(f"{where}: bad template: {exc}") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not FIELD.match(name):
            raise ConfigError(f"{where}: template field '{{{name}}}' must be a plain name "
                              "(no attribute or index access)")
        if conversion is not None or (spec and not SPEC.match(spec)):
            raise ConfigError(f"{where}: template field '{{{name}}}' has an unsupported format")


def render(text: str, values: Mapping[str, Any]) -> str:
    """Fill a checked template; raises MissingField when a value is absent or None."""
    out = []
    for literal, name, spec, _ in _PARSER.parse(text):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        if value is None:
            raise MissingField(name)
        out.append(format_step(value) if name.endswith("step") and not spec else format_value(value, spec or ""))
    return "".join(out)


def format_step(step: Any) -> str:
    """A step as a person counts it (see numfmt.step)."""
    return numfmt.step(step)


def format_value(value: Any, spec: str = "") -> str:
    """A measured value, with an optional numeric spec (see numfmt.value)."""
    return numfmt.value(value, spec)
