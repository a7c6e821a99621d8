"""Renderers: one small function per output format, all built from the same records.

The table of formats (formats.FORMATS) serves `diagnose` and `audit`; escape.py makes every
string from the data safe for the medium; phrases.py holds the words renderers share;
numbers are formatted by lossdoctor.numfmt.
"""

from __future__ import annotations

from typing import TextIO

from .formats import AUDIT_CHOICES, DIAGNOSE_CHOICES, FORMATS, Format, is_terminal, pick
from .options import DEFAULT_OPTIONS, RenderOptions

FORMAT_CHOICES = DIAGNOSE_CHOICES
MACHINE_FORMATS = frozenset(n for n, f in FORMATS.items() if f.machine)

__all__ = ["AUDIT_CHOICES", "DEFAULT_OPTIONS", "DIAGNOSE_CHOICES", "FORMATS", "FORMAT_CHOICES", "Format",
           "MACHINE_FORMATS", "RenderOptions", "is_terminal", "pick", "resolve_format"]


def resolve_format(name: str, stream: TextIO) -> str:
    """The concrete format name for `auto`/`table` on this stream (see formats.pick)."""
    return pick(name, stream).name
