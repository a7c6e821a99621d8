"""`lossdoctor audit`: find every run under some roots, diagnose them all, one table.

A run that cannot be read is a row with its error, not a failure of the audit: the exit
code is the --fail-on gate's (0/1), 4 when no run was found or every run failed, 130
when interrupted (after printing what finished).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from ..audit import AuditResult, audit
from ..engine import RuleIndex
from ..fanout import EngineOptions
from ..sources import Discovery, discover
from ..sources.remote import is_url
from ..errors import ConfigError
from ..exitcodes import ExitCode
from ..findings import VERDICT_RANK, AuditReport, AuditRow, Severity
from ..report import AUDIT_CHOICES, FORMATS, RenderOptions, pick
from ..report.audit_table import rule_ids
from ..report.escape import text as safe
from ..report.output import open_output
from ..numfmt import plural
from .common import FailOn, View, resolve
from .recorded import run_recorded

AUDIT_FORMAT_CHOICES = AUDIT_CHOICES

_LAST = float("inf")
SORT_KEYS: dict[str, Callable[[AuditRow], tuple]] = {
    "run": lambda r: (r.path,),
    "format": lambda r: (r.diagnosis.format or "~", r.path),
    "points": lambda r: (-r.diagnosis.points, r.path),
    "verdict": lambda r: (-VERDICT_RANK[r.verdict], r.path),
    "findings": lambda r: (-len(rule_ids(r)), -VERDICT_RANK[r.verdict], r.path),
    "best-step": lambda r: (_LAST if r.best_val_step is None else r.best_val_step, r.path),
}


@dataclass(frozen=True)
class AuditOptions:
    """Everything `lossdoctor audit` was asked, as plain values."""

    roots: tuple[str | Path, ...]
    fmt: str = "table"
    fail_on: str | None = None  # None: the config files (or the default, error) decide
    metrics: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    rule_paths: tuple[Path, ...] = ()
    jobs: int | None = None
    sort: str = "run"
    only: tuple[str, ...] = ()
    min_severity: str | None = None
    follow_symlinks: bool = False
    config: Path | None = None
    view: View = View()
    engine: str = "local"  # fanout.ENGINES
    scheduler: str | None = None  # dask: the scheduler's address
    output: str | None = None  # a file (a folder for parquet); None: stdout
    resume: str | None = None  # an earlier jsonl/parquet record: its runs are not diagnosed again
    max_spike_score: float | None = None  # --max-spike-score
    show_skipped: bool = False  # --show-skipped: list the skipped paths below the table


def run_audit(opts: AuditOptions, output: TextIO | None = None) -> ExitCode:
    """`lossdoctor audit`: discover, diagnose in parallel, render, return the exit code."""
    # The same layers as diagnose: packaged rules <- project file <- --config <- flags.
    resolved = resolve(opts.config, opts.fail_on, opts.metrics, opts.ignore, opts.rule_paths, opts.max_spike_score)
    settings, gate = resolved.settings, resolved.gate
    options = opts.view.apply(dataclasses.replace(resolved.render_options(), root=_common_root(opts.roots)))
    keep = _row_filter(opts, resolved.config.index)
    fmt = _recorded_format(opts)
    if opts.scheduler and opts.engine != "dask":
        raise ConfigError(f"--scheduler {opts.scheduler}: a scheduler is for --engine dask")
    found = discover(opts.roots, opts.follow_symlinks)
    where = ", ".join(str(r) for r in opts.roots)
    if not found.runs:
        _say(f"lossdoctor: error: no runs found under {safe(where)}{_skips(found)}")
        return ExitCode.NOTHING
    engine = EngineOptions(opts.engine, opts.jobs or os.cpu_count() or 1, opts.scheduler)
    if fmt is not None:
        with _progress(len(found.runs)) as tick:
            return run_recorded(FORMATS[fmt], found, settings, engine, options, opts.output, opts.resume, tick)
    with _progress(len(found.runs)) as tick:
        result = audit(found.runs, settings, engine.jobs, tick, engine)
    with _opened(opts.output, output) as stream:
        return _report(opts, found, result, keep, gate, stream, options)


def _recorded_format(opts: AuditOptions) -> str | None:
    """The streaming format asked for (--resume alone: the resumed file's), or None."""
    fmt = opts.fmt
    if fmt == "table" and opts.resume:
        fmt = "parquet" if os.path.isdir(opts.resume) or opts.resume.endswith(".parquet") else "jsonl"
    if FORMATS.get(fmt) is None or FORMATS[fmt].sink is None:
        if opts.resume:
            raise ConfigError(f"--resume goes with --format jsonl or parquet (not {fmt})")
        return None
    if opts.only or opts.min_severity:
        raise ConfigError(f"--only and --min-severity filter a table; --format {fmt} records every run "
                          "(filter the records instead)")
    return fmt


@contextmanager
def _opened(path: str | None, given: TextIO | None) -> Iterator[TextIO]:
    """The stream a report goes to: the one given, --output's file, or stdout."""
    if given is not None or path is None or path == "-":
        yield given or sys.stdout
        return
    with open_output(path) as handle:
        yield handle


def _report(opts: AuditOptions, found: Discovery, result: AuditResult, keep: Callable[[AuditRow], bool],
            gate: FailOn, stream: TextIO, options: RenderOptions) -> ExitCode:
    chosen = pick(opts.fmt, stream, opts.view.color)
    summary = summarise(found, result)
    shown = sorted((r for r in result.rows if keep(r)), key=SORT_KEYS[opts.sort])
    chosen.audit(AuditReport(shown, summary, [s.to_dict() for s in found.skipped_paths]), stream, options)
    if opts.show_skipped and not chosen.machine:
        print(skipped_section(found), file=stream)
    line = _summary_line(summary, len(shown), len(result.rows), result.interrupted)
    if opts.view.verbosity >= 0 or chosen.machine:
        print(line, file=sys.stderr if chosen.machine else stream)
    if result.interrupted:
        _say("lossdoctor: interrupted")
        return ExitCode.INTERRUPTED
    if summary["diagnosed"] == 0:
        _say(f"lossdoctor: error: no run under {safe(', '.join(map(str, opts.roots)))} could be diagnosed")
        return ExitCode.NOTHING
    return ExitCode.FINDINGS if any(gate.fails(r.diagnosis) for r in result.rows) else ExitCode.OK


def skipped_section(found: Discovery) -> str:
    """--show-skipped: every path left out, one line each, with its reason (escaped: names
    come from the disk)."""
    lines = [f"  {safe(s.path)}: {safe(s.reason)}" + (f" ({safe(s.detail)})" if s.detail else "")
             for s in found.skipped_paths]
    return "\n".join([f"skipped ({len(lines)}):" if lines else "skipped: nothing", *lines])


def summarise(found: Discovery, result: AuditResult) -> dict[str, Any]:
    """Counts over every run found: found = diagnosed + errors (+ not_run when interrupted)."""
    errors = sum(1 for r in result.rows if r.diagnosis.error)
    summary = {"found": len(found.runs), "diagnosed": len(result.rows) - errors, "errors": errors,
               "verdicts": dict(sorted(Counter(r.verdict for r in result.rows).items())),
               "skipped": dict(sorted(found.skipped.items()))}
    if result.interrupted:
        summary["not_run"] = len(found.runs) - len(result.rows)
    return summary


def _summary_line(summary: dict[str, Any], shown: int, done: int, interrupted: bool) -> str:
    verdicts = ", ".join(f"{n} {v}" for v, n in summary["verdicts"].items())
    text = (f"{plural(summary['found'], 'run')} found: {summary['diagnosed']} diagnosed, {summary['errors']} "
            f"could not be diagnosed" + (f" ({verdicts})" if verdicts else ""))
    if interrupted:
        text += f"; interrupted: {summary['not_run']} not run"
    if shown != done:
        text += f"; {shown} shown"
    skipped = ", ".join(f"{n} {why}" for why, n in summary["skipped"].items())
    return text + (f"; skipped: {skipped}" if skipped else "")


def _skips(found: Discovery) -> str:
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(found.skipped.items()))
    return f" (skipped: {skipped})" if skipped else ""


def _row_filter(opts: AuditOptions, index: RuleIndex) -> Callable[[AuditRow], bool]:
    """--only RULE (any of; ids, aliases or tags) and --min-severity: which rows are shown
    (the gate sees all)."""
    only = index.select(opts.only, lambda _, token: f"--only {token}")
    try:
        floor = Severity.parse(opts.min_severity) if opts.min_severity else None
    except ValueError as exc:
        raise ConfigError(f"--min-severity: {exc}") from None

    def keep(row: AuditRow) -> bool:
        rules = {f.rule for f in row.diagnosis.findings}
        worst = row.diagnosis.worst
        return (not only or bool(rules & only)) and (floor is None or (worst is not None and worst >= floor))
    return keep


def _common_root(roots: tuple[str | Path, ...]) -> str | None:
    """Where the table's run paths are relative to: the one root folder, or what the roots share."""
    if any(is_url(r) for r in roots):  # a store's root: runs are shown below the one URL given
        return str(roots[0]).rstrip("/") if len(roots) == 1 else None
    folders = [str(Path(r) if Path(r).is_dir() else Path(r).parent) for r in roots]
    try:
        return os.path.commonpath([os.path.abspath(f) for f in folders])
    except ValueError:  # roots on different drives
        return os.getcwd()


def _say(text: str) -> None:
    print(text, file=sys.stderr)


PROGRESS_AFTER = 1.0  # seconds: a quicker audit shows no bar at all


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr, when stderr is a terminal and the audit has taken a second."""
    if not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        yield lambda n: None
        return
    state: dict[str, Any] = {"done": 0, "bar": None, "start": time.monotonic()}

    def tick(n: int) -> None:
        state["done"] += n
        if state["bar"] is None and time.monotonic() - state["start"] >= PROGRESS_AFTER:
            state["bar"] = _start_bar(total)
            state["task"] = state["bar"].add_task("audit", total=total, completed=state["done"] - n)
        if state["bar"] is not None:
            state["bar"].advance(state["task"], n)
    try:
        yield tick
    finally:
        if state["bar"] is not None:
            state["bar"].stop()


def _start_bar(total: int) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("auditing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    bar.start()
    return bar
