"""Predicate parameters, declared once: in the predicate's signature, with a kind.

    def diverges(subj: Subject, slot: Slot, min_ratio: Ratio = 2.0,
                 tail: Annotated[Fraction, "share of points"] = 0.15) -> Evidence | None:

Each parameter after the subject is annotated with one of the kinds below (`Slot`,
`Ratio`, `Fraction`, `Count`, `Number`, `Names`); its default is the default a rule gets,
and no default means a rule must pass it. The kind checks what a rule file or a config
override may pass (`Kind.problem`), and carries a unit word for `rules show`; a plain
string in the `Annotated[...]` narrows the unit for one parameter.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Union, get_args, get_origin, get_type_hints

from .subject import SLOTS


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _number(value: Any) -> str | None:
    return None if _is_number(value) else f"expected a number, got {value!r}"


def _count(value: Any) -> str | None:
    ok = _is_number(value) and math.isfinite(value) and int(value) == value and value >= 1
    return _number(value) or (None if ok else f"expected a positive integer, got {value!r}")


def _fraction(value: Any) -> str | None:
    ok = _is_number(value) and 0 <= value <= 1
    return _number(value) or (None if ok else f"expected a fraction between 0 and 1, got {value!r}")


def _ratio(value: Any) -> str | None:
    ok = _is_number(value) and value >= 1
    return _number(value) or (None if ok else f"expected a ratio of at least 1, got {value!r}")


def _slot(value: Any) -> str | None:
    return None if value in SLOTS else f"expected one of {', '.join(SLOTS)}, got {value!r}"


def _names(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return None if ok else f"expected a list of names, got {value!r}"


@dataclass(frozen=True)
class Kind:
    """What a parameter accepts: its name, a unit word for `rules show`, and its check."""

    name: str
    unit: str
    check: Callable[[Any], str | None]

    def problem(self, value: Any) -> str | None:
        """Why `value` does not fit this kind, or None when it does."""
        return self.check(value)


SLOT = Kind("slot", "slot", _slot)
RATIO = Kind("ratio", "x", _ratio)
FRACTION = Kind("fraction", "fraction", _fraction)
COUNT = Kind("count", "points", _count)
NUMBER = Kind("number", "", _number)
NAMES = Kind("names", "names", _names)

Slot = Annotated[str, SLOT]  # which series of the subject: train_loss, val_loss, lr, ...
Ratio = Annotated[float, RATIO]  # a factor of at least 1 (2.0 = twice)
Fraction = Annotated[float, FRACTION]  # between 0 and 1: a share, a relative change
Count = Annotated[int, COUNT]  # a positive whole number (points, evaluations, classes)
Number = Annotated[float, NUMBER]  # any finite or infinite number (.inf for "no bound")
Names = Annotated[list[str], NAMES]  # a list of names: formats, tools, axes

REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    """One declared predicate parameter."""

    name: str
    kind: Kind
    default: Any = REQUIRED
    unit: str = ""

    @property
    def required(self) -> bool:
        """No default: every rule must pass it."""
        return self.default is REQUIRED

    def problem(self, value: Any) -> str | None:
        """Why `value` does not fit this parameter, or None when it does."""
        return self.kind.problem(value)


def signature_params(fn: Callable[..., Any]) -> dict[str, Param]:
    """The parameters a predicate declares after its subject, from its signature.

    A parameter without a kind is a programming error, raised when the registry is built.
    """
    hints = get_type_hints(fn, include_extras=True)
    out = {}
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        meta = _metadata(hints.get(p.name))
        kind = next((m for m in meta if isinstance(m, Kind)), None)
        if kind is None or p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            raise TypeError(f"predicate {fn.__name__}: parameter '{p.name}' needs a kind "
                            "(Slot, Ratio, Fraction, Count, Number or Names from lossdoctor.engine.params)")
        unit = next((m for m in reversed(meta) if isinstance(m, str)), kind.unit)
        out[p.name] = Param(p.name, kind, p.default, unit)
    return out


def _metadata(hint: Any) -> tuple[Any, ...]:
    """The Annotated metadata of a hint, looking inside Optional[...] (a None default adds it)."""
    if get_origin(hint) is Annotated:
        return hint.__metadata__
    if get_origin(hint) is Union:
        return next((_metadata(a) for a in get_args(hint) if get_origin(a) is Annotated), ())
    return ()
