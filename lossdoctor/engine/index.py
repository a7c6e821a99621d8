"""Naming rules: one index from rule ids, aliases and tags to the rule ids they mean.

Wherever a user names rules (`--ignore`, `audit --only`, `--fail-on RULES`, a config's
`rules:` keys and `ignore:`, `rules show`) a token is a rule id, an alias (an old id
kept after a rename) or a tag from the rules' metadata (`nan` -> nan_loss, hidden_nan).
An id wins over an alias, an alias over a tag. An unknown token is a ConfigError that
suggests the closest name, so a typo never silently selects nothing.
"""

from __future__ import annotations

import difflib
from typing import Callable, Iterable

from ..errors import ConfigError
from .ruleset import Rule


class RuleIndex:
    """Rule ids by every name a user may give: id, alias, tag."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        rules = list(rules)
        names: dict[str, tuple[str, ...]] = {r.id: (r.id,) for r in rules}
        for r in rules:
            for alias in r.aliases:
                names.setdefault(alias, (r.id,))
        tagged: dict[str, list[str]] = {}
        for r in rules:
            for tag in r.tags:
                if tag not in names:
                    tagged.setdefault(tag, []).append(r.id)
        self._names = {**names, **{tag: tuple(ids) for tag, ids in tagged.items()}}

    def __contains__(self, token: str) -> bool:
        return token in self._names

    def ids(self, token: str, where: str) -> tuple[str, ...]:
        """The rule ids a token names, in rule order; `where` locates the error when none."""
        found = self._names.get(token)
        if found is None:
            raise ConfigError(f"{where}: {self.unknown(token)}")
        return found

    def select(self, tokens: Iterable[str], where: Callable[[int, str], str]) -> frozenset[str]:
        """The rule ids of several tokens; `where(i, token)` locates an unknown one."""
        return frozenset(rid for i, token in enumerate(tokens) for rid in self.ids(token, where(i, token)))

    def unknown(self, token: str) -> str:
        """`unknown rule 'overfit' (did you mean 'overfitting'?)`."""
        close = self.closest(token)
        hint = f"did you mean '{close}'?" if close else "see `lossdoctor rules`"
        return f"unknown rule '{token}' ({hint})"

    def closest(self, token: str, also: Iterable[str] = ()) -> str | None:
        """The known name (or one of `also`) nearest to a mistyped token, if one is close."""
        close = difflib.get_close_matches(token, sorted({*self._names, *also}), n=1)
        return close[0] if close else None
