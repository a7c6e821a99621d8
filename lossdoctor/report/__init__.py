"""Renderers: one small function per output format, all built from the same Diagnosis records."""

from __future__ import annotations

import os
from typing import Callable, TextIO

from ..findings import Diagnosis
from .human import render_plain, render_rich
from .json_out import render_json

Renderer = Callable[[list[Diagnosis], TextIO], None]

RENDERERS: dict[str, Renderer] = {
    "plain": render_plain,
    "rich": render_rich,
    "json": render_json,
}
MACHINE_FORMATS = frozenset({"json"})
FORMAT_CHOICES = ("auto", *RENDERERS)


def resolve_format(name: str, stream: TextIO) -> str:
    """`auto`: rich on a terminal, plain otherwise; any other name is kept as it is."""
    if name != "auto":
        return name
    isatty = getattr(stream, "isatty", lambda: False)()
    return "rich" if isatty and os.environ.get("TERM") != "dumb" else "plain"
