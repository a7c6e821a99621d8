"""Every string that comes from the data, made harmless for the medium it is written to.

Metric names, column headers, TensorBoard tags, file names, run ids, rule ids and titles from
user rule files, and the messages that embed them are untrusted: they may hold ESC
sequences (clear the screen, set the terminal title), newlines that start a line a CI
runner obeys (`::add-mask::`, `::stop-commands::`), backticks and HTML that break out of a
Markdown report, or a leading `=` a spreadsheet runs as a formula. Each function here takes
such a string and returns it safe for one medium; renderers call them on every piece of
data and on nothing else (their own words stay as written).

- `text`: terminals and plain text. C0/C1 controls, DEL, lone surrogates and bidi overrides
  are shown as visible escapes (`\\x1b`, `\\n`, `\\u202e`); rich never sees markup from data
  (renderers hand it `Text` objects). Under a CI runner (`on_ci()`), `::` and `##[` are
  %-escaped too, so no piece of data can begin a workflow command.
- `command_data`, `command_property`: inside a GitHub workflow command (GitHub's rules:
  `%`, CR, LF in data; also `:` and `,` in properties).
- `markdown`, `markdown_code`: GitHub-flavoured Markdown text and code spans.
- `html`, `xml`: markup (attributes and text).
- `csv_cell`: a spreadsheet cell (formula guard).
- `arrow`: a Parquet/Arrow string column, or any place that takes only real characters (an
  environment value, after a file name's own bytes are given their chance: watch/hook.py).
"""

from __future__ import annotations

import html as _html
import os
import re
from typing import Any

# What a terminal acts on or hides: C0 (but not space), DEL, C1, lone surrogates, and the
# bidirectional controls that reorder what is shown (Trojan-source style).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Workflow-command openers: `::cmd::` (after leading spaces) and the older `##[cmd]`, which
# the runner finds anywhere in a line (also Azure Pipelines' `##vso[`).
_CI_OPENERS = re.compile(r"::|##\[|##vso\[")
_CI_ESCAPED = {"::": "%3A%3A", "##[": "##%5B", "##vso[": "##vso%5B"}


def on_ci() -> bool:
    """True when a CI runner that obeys commands in the output reads this process's lines."""
    return os.environ.get("GITHUB_ACTIONS") == "true" or os.environ.get("TF_BUILD", "").lower() == "true"


def _visible(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def controls(value: Any) -> str:
    """Only the control characters, as visible escapes (for media that escape the rest)."""
    return _UNSAFE.sub(lambda m: _visible(m[0]), str(value))


def neutralise_commands(text: str) -> str:
    """%-escape the openers of CI workflow commands (`::`, `##[`)."""
    return _CI_OPENERS.sub(lambda m: _CI_ESCAPED[m[0]], text)


# Outside CI a `::` inside a line is inert, but one that can begin a line -- the value's start
# (a message opens with its metric's name), or after a space where a report wraps -- would be a
# workflow command in any CI log the output is copied to (a container step without the
# runner's environment): those are escaped always.
_LINE_OPENER = re.compile(r"(?:^|(?<=\s))::")


def text(value: Any, ci: bool | None = None) -> str:
    """Data for a terminal or a plain-text file (also stderr's one-line errors)."""
    out = controls(value)
    if on_ci() if ci is None else ci:
        return neutralise_commands(out)
    return _LINE_OPENER.sub("%3A%3A", out)


def command_data(value: Any) -> str:
    """The message part of a GitHub workflow command."""
    # `::` inside the message is inert (the command ended at the first `::`); controls
    # other than CR/LF are shown visibly, as in every other medium.
    return controls(str(value).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def command_property(value: Any) -> str:
    """A property value (file=, title=) of a workflow command."""
    return command_data(value).replace(":", "%3A").replace(",", "%2C")


# Markdown: what starts emphasis, code, links, images, HTML, tables and strikethrough
# anywhere in a line; `<`, `>` and `&` become entities so no raw HTML is ever written.
_MD_INLINE = re.compile(r"[\\`*_\[\]|~#!]")
_MD_BLOCK_START = re.compile(r"^(\s*(?:\d+)?)([-+=>.)])")
_MD_AUTOLINK = re.compile(r"(?i)(://|www\.)")


def markdown(value: Any) -> str:
    """Data inside Markdown text or a table cell: renders as the same characters, nothing else."""
    out = controls(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _MD_INLINE.sub(lambda m: "\\" + m[0], out)
    out = _MD_AUTOLINK.sub(lambda m: m[0].replace("/", "\\/").replace(".", "\\."), out)
    out = _MD_BLOCK_START.sub(lambda m: m[1] + "\\" + m[2], out)  # a list, quote or heading underline
    return neutralise_commands(out) if on_ci() else _LINE_OPENER.sub(r"\\::", out)  # `\:` renders `:`


def markdown_code(value: Any, table: bool = False) -> str:
    """Data as a Markdown code span: a fence longer than any backtick run inside it, so the
    span cannot be closed early (a span shows HTML and links as text). In a table a `|`
    must still be escaped: GitHub splits cells before it reads code spans."""
    body = controls(value)
    runs = [len(r) for r in re.findall(r"`+", body)]
    fence = "`" * (max(runs, default=0) + 1)
    if body.startswith("`") or body.endswith("`") or (body[:1] == " " and body[-1:] == " "):
        body = f" {body} "
    if table:
        body = body.replace("|", "\\|")
    out = f"{fence}{body}{fence}"
    return neutralise_commands(out) if on_ci() else out  # `##[` is obeyed anywhere in a line


def html(value: Any) -> str:
    """Data in HTML text or a quoted attribute."""
    return _html.escape(controls(value), quote=True)


# XML 1.0 cannot hold most C0 controls (a parser rejects the document) nor lone surrogates
# (the encoder fails): show them as visible escapes instead.
def xml(value: Any) -> str:
    """Data in an XML document (ElementTree escapes <, & and quotes itself)."""
    return controls(value)


_SURROGATE = re.compile("[\ud800-\udfff]")


# Arrow strings are UTF-8, which cannot hold a lone surrogate (a JSON key's `\udfff`, a file
# name's undecodable byte as Python reads it: the writer fails): it is shown as its escape.
# The rest stays as the data had it -- a Parquet column is read by programs, which escape for
# their own medium -- so a run's path in it is the path.
def arrow(value: Any) -> str:
    """Data in a Parquet/Arrow string column."""
    return _SURROGATE.sub(lambda m: _visible(m[0]), str(value))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: a text cell starting like a formula gets a
    leading `'` (numbers such as -0.5 stay numbers)."""
    raw = str(value)
    if raw.startswith(_FORMULA_START) and not _is_number(raw):
        raw = "'" + raw
    return controls(raw)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text
