"""What every predicate shares: the evidence type, a curve lookup, the registry's entries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..params import Param, signature_params
from ..subject import Curve, Subject

Evidence = dict[str, Any]


def curve_of(subj: Subject, slot: str, min_points: int) -> Curve | None:
    """The slot's curve when it has at least `min_points` finite points, else None."""
    c = subj.curve(slot)
    return c if c is not None and c.n >= min_points else None


@dataclass(frozen=True)
class Predicate:
    """A registered predicate: the function and the parameters its signature declares."""

    fn: Callable[..., Evidence | None]
    params: dict[str, Param]

    @property
    def name(self) -> str:
        """The name rule files call it by: the function's name."""
        return self.fn.__name__

    @property
    def summary(self) -> str:
        """The first paragraph of the docstring, on one line (for `rules show`)."""
        return " ".join((self.fn.__doc__ or "").strip().split("\n\n")[0].split())


def registry(functions: list[Callable[..., Evidence | None]]) -> dict[str, Predicate]:
    """Predicates by name, each with the parameters read from its signature."""
    out: dict[str, Predicate] = {}
    for fn in functions:
        if fn.__name__ in out:
            raise TypeError(f"predicate {fn.__name__} is registered twice")
        out[fn.__name__] = Predicate(fn, signature_params(fn))
    return out
