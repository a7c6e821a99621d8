"""What every predicate shares: the evidence type, the declared parameters, a curve lookup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..subject import Curve, Subject

Evidence = dict[str, Any]


def curve_of(subj: Subject, slot: str, min_points: int) -> Curve | None:
    """The slot's curve when it has at least `min_points` finite points, else None."""
    c = subj.curve(slot)
    return c if c is not None and c.n >= min_points else None


@dataclass(frozen=True)
class Param:
    """A predicate parameter: its kind (checked when a rule file is loaded) and default."""

    kind: str  # fraction | ratio | count | number | slot | names
    default: Any = None


@dataclass(frozen=True)
class Predicate:
    """A registered predicate: the function and its declared parameters."""

    fn: Callable[..., Evidence | None]
    params: dict[str, Param]
