"""Shell completion (click's shell_complete) for rule ids and knowledge-base entries.

Completion runs on every <TAB>, so it reads only the packaged rule files and never a log.
"""

from __future__ import annotations

from typing import Any

from click.shell_completion import CompletionItem

SEVERITIES = ("info", "warning", "error", "never")


def _rules() -> list[Any]:
    from .engine import default_rules

    try:
        return list(default_rules())
    except Exception:  # noqa: BLE001 - a broken rule file must not break the user's shell
        return []


def complete_rule_ids(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """Rule ids starting with what was typed, each with its title."""
    return [CompletionItem(r.id, help=r.title) for r in _rules() if r.id.startswith(incomplete)]


def complete_fail_on(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """A severity or a rule id (after a comma, the next rule id of a list)."""
    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    words = [] if head else [CompletionItem(s) for s in SEVERITIES if s.startswith(last)]
    return words + [CompletionItem(prefix + r.id, help=r.title) for r in _rules() if r.id.startswith(last)]


def complete_knowledge(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    """Knowledge-base ids (P1-P30) with their titles."""
    from .knowledge import entries

    typed = incomplete.lower()
    return [CompletionItem(e.id, help=e.title) for e in entries().values() if e.id.lower().startswith(typed)]
