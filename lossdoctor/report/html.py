"""HTML: one self-contained file per report - the text report (the same layout as plain and
rich, each line's styles as CSS classes) and each run's picture inlined as a base64 PNG.

Needs matplotlib (the picture); every piece of text is HTML-escaped (escape.html).
"""

from __future__ import annotations

import base64
import html
from typing import TextIO

from ..errors import InputError
from ..findings import Diagnosis
from . import escape
from .human import layout
from .options import DEFAULT_OPTIONS, RenderOptions
from .plot import draw

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1000px}
pre{font-family:ui-monospace,monospace;font-size:13px;line-height:1.35;white-space:pre-wrap}
.bold{font-weight:bold}.dim{color:#666}.red{color:#c62828}.yellow{color:#b26a00}
.cyan{color:#00838f}.green{color:#2e7d32}.magenta{color:#8e24aa}img{max-width:100%}"""


def _line(segments: list[tuple[str, str]]) -> str:
    """One layout line; its text is already escape.text'd (controls visible), so only markup
    characters are left to escape here."""
    parts = []
    for text, style in segments:
        body = html.escape(text, quote=False)
        parts.append(f'<span class="{style}">{body}</span>' if style else body)
    return "".join(parts)


def _run(diag: Diagnosis, options: RenderOptions) -> str:
    lines = "\n".join(_line(segments) for segments in layout(diag, options))
    out = f"<section>\n<pre>{lines}</pre>\n"
    if not diag.error and diag.curves:
        try:
            picture = draw(diag, "png", options.rel(diag.path))
        except InputError as exc:  # the report stands without its picture
            return out + f"<p>{escape.html(exc.problem)}</p>\n</section>\n"
        data = base64.b64encode(picture.data).decode("ascii")
        out += (f'<img alt="training curves of {escape.html(options.rel(diag.path))}" width="{picture.width}" '
                f'height="{picture.height}" src="data:image/png;base64,{data}">\n')
    return out + "</section>\n"


def render_html(diagnoses: list[Diagnosis], out: TextIO, options: RenderOptions = DEFAULT_OPTIONS) -> None:
    """The whole document."""
    out.write('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
              f"<title>lossdoctor report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
              "<h1>lossdoctor report</h1>\n")
    for diag in diagnoses:
        out.write(_run(diag, options))
    out.write("</body>\n</html>\n")
