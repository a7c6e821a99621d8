"""`lossdoctor watch PATH`: follow the runs under PATH while they are written, report each
finding once as it appears (and when it resolves), gate on the first one that fails
--fail-on, and end with every run's diagnosis."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from ..exitcodes import ExitCode
from ..report import pick
from ..report.escape import text as safe
from ..report.formats import is_terminal
from ..sources.text import refuse_special
from ..watch.events import SEVERITY_STYLE, Emitter, event
from ..watch.hook import Hook, parse_command
from ..watch.session import Outcome, Session, WatchOptions
from .common import View, exit_code, resolve

WATCH_FORMATS = ("text", "jsonl")


@dataclass(frozen=True)
class WatchArgs:
    """The command line of `watch`, past click."""

    opts: WatchOptions
    fmt: str
    fail_on: str | None
    metrics: tuple[str, ...]
    ignore: tuple[str, ...]
    rule_paths: tuple[Path, ...]
    config: Path | None
    exec_cmd: str | None
    view: View


def watch(args: WatchArgs, output: TextIO | None) -> ExitCode:
    """Run a watch session to its end; the exit code says how it ended."""
    refuse_special(args.opts.path)  # a FIFO named like a log never becomes one
    resolved = resolve(args.config, args.fail_on, args.metrics, args.ignore, args.rule_paths)
    hook = Hook(parse_command(args.exec_cmd)) if args.exec_cmd else None
    stream = output or sys.stdout
    emitter = Emitter(stream, args.fmt)
    with _live_status(stream, args.view) as (printer, update):
        session = Session(args.opts, resolved.settings, resolved.gate.fails_finding,
                          lambda ev: emitter.emit(ev, printer), hook)
        outcome = session.loop(on_tick=lambda: update(session.status()))
    code = _exit_code(outcome, resolved.gate)
    if args.fmt == "jsonl":
        _say_errors(outcome)
        emitter.emit(event("end", reason=outcome.reason, exit_code=int(code),
                           runs=[d.to_dict() for d in outcome.diagnoses]))
    else:
        _final_report(outcome, stream, args.view, resolved)
    return code


def _exit_code(outcome: Outcome, gate: Any) -> ExitCode:
    if outcome.reason == "gate":
        return ExitCode.FINDINGS
    if outcome.reason == "interrupted":
        return ExitCode.INTERRUPTED
    return exit_code(outcome.diagnoses, gate)  # idle: what `diagnose` would say of the runs now


def _say_errors(outcome: Outcome) -> None:
    """Each unreadable run on stderr in every format, in the line `diagnose` writes (the
    message names the file)."""
    for d in outcome.diagnoses:
        if d.error:
            print(f"lossdoctor: error: {safe(d.error.message)}", file=sys.stderr)


def _final_report(outcome: Outcome, stream: TextIO, view: View, resolved: Any) -> None:
    """Why watch stopped (stderr), then the readable runs' report as `diagnose` renders it."""
    why = {"gate": "a finding failed the gate", "idle": "the writer went idle",
           "interrupted": "interrupted"}[outcome.reason]
    print(f"lossdoctor watch: stopped ({why}); final diagnosis:", file=sys.stderr)
    _say_errors(outcome)
    shown = [d for d in outcome.diagnoses if not d.error]
    if shown:
        chosen = pick("auto", stream, view.color)
        chosen.diagnose(shown, stream, view.apply(resolved.render_options()))


@contextmanager
def _live_status(stream: TextIO, view: View) -> Iterator[tuple[Callable | None, Callable[[str], None]]]:
    """A one-line status on stderr when it is a terminal (rich, redrawn in place); event lines
    then go through the same console so the status line is not torn by them."""
    if view.verbosity < 0 or not is_terminal(sys.stderr):
        yield None, lambda _: None
        return
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    console = Console(stderr=True, no_color=view.color is False)
    shared = stream is sys.stdout and is_terminal(sys.stdout)
    with Live(Text(""), console=console, transient=True, refresh_per_second=4) as live:
        def printer(line: str, severity: str | None) -> None:
            live.console.print(Text(line, style=SEVERITY_STYLE.get(severity or "", "")))

        def update(text: str) -> None:
            live.update(Text(text, style="dim", no_wrap=True, overflow="ellipsis"))
        yield (printer if shared else None), update
