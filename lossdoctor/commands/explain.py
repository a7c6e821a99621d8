"""`lossdoctor explain [ID]`: a knowledge-base entry, or the list of them all."""

from __future__ import annotations

import textwrap

import click

from ..config_schema import suggest
from ..errors import ConfigError
from ..exitcodes import ExitCode
from ..knowledge import Entry, entries, lookup
from ..engine import default_rules


def explain(key: str | None) -> ExitCode:
    """Print one entry (with the packaged rules that cite it), or list every entry."""
    if key is None:
        click.echo("\n".join(listing()))
        return ExitCode.OK
    entry = lookup(key)
    if entry is None:
        hint = suggest(key.upper(), entries()) or "see `lossdoctor explain`"
        raise ConfigError(f"explain {key}: no knowledge-base entry '{key}' ({hint})")
    click.echo("\n".join(page(entry)))
    return ExitCode.OK


def listing() -> list[str]:
    """`P19  One huge activation overflows exp, ...`, grouped by section."""
    out: list[str] = []
    group = None
    for e in entries().values():
        if e.group != group:
            out += ([""] if out else []) + [f"{e.group}:"]
            group = e.group
        out.append(f"  {e.id:<4} {e.title}")
    return out + ["", "More: lossdoctor explain ID"]


def page(entry: Entry) -> list[str]:
    """What `explain P19` prints."""
    wrap = lambda text, pad: textwrap.wrap(text, 88, initial_indent=pad, subsequent_indent=" " * len(pad))  # noqa: E731
    cited = [r.id for r in default_rules() if entry.id in r.knowledge]
    out = [f"{entry.id} — {entry.title}", f"({entry.group})", "", "What you see:", *wrap(entry.seen, "  "),
           "", "Likely causes:"]
    out += [line for why in entry.why for line in wrap(why, "  - ")]
    out += ["", "What to try:"] + [line for r in entry.remedies for line in wrap(r, "  - ")]
    if cited:
        out += ["", f"Rules that cite it: {', '.join(cited)} (lossdoctor rules show ID)"]
    return out
