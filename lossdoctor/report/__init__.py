"""Renderers: one small function per output format, all built from the same Diagnosis records."""

from __future__ import annotations

import os
from typing import Callable, Optional, TextIO

from ..findings import Diagnosis
from .github import render_github
from .human import render_plain, render_rich
from .json_out import render_json
from .junit import render_junit
from .markdown import render_markdown
from .options import DEFAULT_OPTIONS, RenderOptions

# Every renderer takes (diagnoses, out, options=DEFAULT_OPTIONS); options carry the gate.
Renderer = Callable[[list[Diagnosis], TextIO, Optional[RenderOptions]], None]


def _without_options(fn: Callable[[list[Diagnosis], TextIO], None]) -> Renderer:
    """Adapt a renderer that needs no options (plain, rich, json) to the common signature."""
    def render(diagnoses: list[Diagnosis], out: TextIO, options: RenderOptions | None = None) -> None:
        fn(diagnoses, out)
    render.__doc__ = fn.__doc__
    return render


RENDERERS: dict[str, Renderer] = {
    "plain": _without_options(render_plain),
    "rich": _without_options(render_rich),
    "json": _without_options(render_json),
    "markdown": render_markdown,
    "github": render_github,
    "junit": render_junit,
}
# Formats whose stdout is the payload and nothing else (progress and errors go to stderr).
MACHINE_FORMATS = frozenset({"json", "markdown", "github", "junit"})
FORMAT_CHOICES = ("auto", *RENDERERS)


def resolve_format(name: str, stream: TextIO) -> str:
    """`auto`: github under GitHub Actions, rich on a terminal, plain otherwise."""
    if name != "auto":
        return name
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    isatty = getattr(stream, "isatty", lambda: False)()
    return "rich" if isatty and os.environ.get("TERM") != "dumb" else "plain"
