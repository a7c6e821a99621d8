"""One `watch` session: find the runs under a path, follow each, re-judge every interval.

Each tick discovers the runs under the path again (with the discovery `diagnose` uses,
so a run folder that appears later is picked up), polls every run's follower for new
data, and judges the runs that changed with the same rules as `diagnose`. A finding is
reported once when it appears and again when it resolves (`tracker`). The first finding
that fails the gate ends the session (after `--exec`, if given), unless `keep_going`; so
does a writer idle for `idle_timeout` seconds, or Ctrl-C. The session reports through an
`emit` callback and returns an Outcome; rendering is the command's business.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..diagnose import Settings, diagnose_run
from ..errors import ConfigError, LossdoctorError
from ..findings import Diagnosis, Finding, RunError, Severity
from ..sources import RunRef, discover, no_log_found
from ..sources.follow import Follower, follower
from .events import event, finding_event
from .hook import Hook
from .tracker import Tracker


@dataclass(frozen=True)
class WatchOptions:
    """What the command line asks of a session."""

    path: str
    interval: float = 5.0
    idle_timeout: float | None = None
    keep_going: bool = False  # run --exec at every gate event and go on watching
    verbosity: int = 0  # > 0: info findings are reported too


@dataclass
class Watched:
    """One run being followed: its follower, the findings standing, its last judgement."""

    ref: RunRef
    follower: Follower
    tracker: Tracker = field(default_factory=Tracker)
    diagnosis: Diagnosis | None = None
    waiting: str = "nothing read yet"  # why it has no judgement yet (or any more)
    last_step: float | None = None

    @property
    def name(self) -> str:
        return self.ref.name or self.ref.path


@dataclass(frozen=True)
class Outcome:
    """How a session ended (`gate`, `idle`, `interrupted`) and every run's final diagnosis."""

    reason: str
    diagnoses: list[Diagnosis]
    gated: bool  # a finding failed the gate at some point


class Session:
    """The runs under one path, followed and judged tick by tick."""

    def __init__(self, opts: WatchOptions, settings: Settings, gate: Callable[[Finding], bool],
                 emit: Callable[[dict[str, Any]], None], hook: Hook | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.opts, self.settings, self.gate, self.emit, self.hook = opts, settings, gate, emit, hook
        self.clock = clock
        self.runs: dict[str, Watched] = {}
        self.gated = False
        self.last_change = clock()

    def loop(self, sleep: Callable[[float], None] | None = None, on_tick: Callable[[], None] | None = None) -> Outcome:
        """Tick every interval until the gate, the idle timeout or Ctrl-C ends the session."""
        self.emit(event("watch", path=self.opts.path, interval=self.opts.interval))
        with _ctrl_c_as_a_request() as stop:
            wait = sleep or stop.wait  # Ctrl-C ends the wait at once
            try:
                while not stop.is_set():
                    start = self.clock()
                    if self.tick():
                        return self.outcome("gate")
                    if on_tick is not None:
                        on_tick()
                    idle = self.opts.idle_timeout
                    if idle is not None and self.clock() - self.last_change >= idle:
                        return self.outcome("idle")
                    if not stop.is_set():
                        wait(max(0.0, self.opts.interval - (self.clock() - start)))
            except KeyboardInterrupt:
                pass
            return self.outcome("interrupted")

    def tick(self) -> bool:
        """Discover, poll, judge once; True when a finding failed the gate and the session must end."""
        for ref in discover([self.opts.path]).runs:
            if ref.path not in self.runs:
                self._drop_inside(ref.path)
                self.runs[ref.path] = Watched(ref, follower(ref))
                self.emit(event("run", run=ref.name or ref.path, path=ref.path, layout=ref.layout))
                self.last_change = self.clock()
        stop = False
        for watched in self.runs.values():
            if watched.follower.poll():
                self.last_change = self.clock()
                stop = self._judge(watched) or stop
        return stop

    def _drop_inside(self, folder: str) -> None:
        """A run folder found later owns its subtree (discovery's rule): an HF output dir whose
        first checkpoint appeared replaces the `runs/` event folder followed until then."""
        inside = [p for p in self.runs if p != folder and p.startswith(folder.rstrip(os.sep) + os.sep)]
        for path in inside:
            del self.runs[path]

    def _judge(self, watched: Watched) -> bool:
        """Judge one changed run and report what changed; True when the session must end."""
        try:
            run = watched.follower.run()
            diag = diagnose_run(run, self.settings, in_progress=True)
        except ConfigError:
            raise
        except LossdoctorError as exc:  # not readable yet, no loss logged yet, a metric not logged yet
            watched.waiting = exc.message
            return False
        diag.name, diag.layout, diag.run = watched.name, watched.ref.layout, watched.ref.path
        watched.diagnosis, watched.waiting = diag, ""
        watched.last_step = max((float(s.steps[-1]) for s in run.series.values() if len(s)), default=None)
        changes = watched.tracker.update(diag.findings)
        for f in changes.resolved:
            if self._shown(f):
                self.emit(finding_event("resolved", watched.name, f))
        stop = False
        for f in sorted(changes.new):
            if self._shown(f):
                self.emit(finding_event("finding", watched.name, f))
            if self.gate(f):
                self.gated = True
                self._run_hook(watched, f)
                stop = stop or not self.opts.keep_going
        return stop

    def _shown(self, f: Finding) -> bool:
        return f.severity >= Severity.WARNING or self.opts.verbosity > 0 or self.gate(f)

    def _run_hook(self, watched: Watched, f: Finding) -> None:
        if self.hook is None:
            return
        code = self.hook.run(finding_event("finding", watched.name, f))
        self.emit(event("exec", run=watched.name, rule=f.rule, argv=list(self.hook.argv), returncode=code))

    def outcome(self, reason: str) -> Outcome:
        """Judge what arrived last and give every run's final diagnosis."""
        if reason != "gate":
            try:
                self.tick()
            except KeyboardInterrupt:
                pass
        return Outcome(reason, self.final(), self.gated)

    def final(self) -> list[Diagnosis]:
        """Every run's last judgement (an error record for a run never judged)."""
        if not self.runs:
            found = discover([self.opts.path])
            message = no_log_found(self.opts.path, found).message
            return [Diagnosis(self.opts.path, error=RunError("input", message), name=self.opts.path)]
        out = []
        for w in self.runs.values():
            if w.diagnosis is not None:
                w.diagnosis = self._whole(w)
            diag = w.diagnosis or Diagnosis(w.ref.path, error=RunError("input", w.waiting), name=w.name,
                                            run=w.ref.path, layout=w.ref.layout)
            out.append(diag)
        return out

    def _whole(self, watched: Watched) -> Diagnosis:
        """The last judgement redone as `diagnose` would give it: with the whole-run rules."""
        try:
            diag = diagnose_run(watched.follower.run(), self.settings)
        except LossdoctorError:
            return watched.diagnosis
        diag.name, diag.layout, diag.run = watched.name, watched.ref.layout, watched.ref.path
        return diag

    def status(self) -> str:
        """The one-line live status: run, last step, points, verdict (or what it waits for)."""
        if not self.runs:
            return f"waiting for a run under {self.opts.path}"
        parts = []
        for w in list(self.runs.values())[:3]:
            if w.diagnosis is None:
                parts.append(f"{w.name}: {w.waiting}")
            else:
                step = "-" if w.last_step is None else f"{w.last_step:,.0f}"
                parts.append(f"{w.name}: step {step}, {w.diagnosis.points:,} points, {w.diagnosis.verdict}")
        more = f" (+{len(self.runs) - 3} more)" if len(self.runs) > 3 else ""
        idle = self.clock() - self.last_change
        return "; ".join(parts) + more + (f"; idle {idle:.0f}s" if idle >= 2 * self.opts.interval else "")


class _ctrl_c_as_a_request:
    """While watching, the first Ctrl-C asks the loop to stop after what it is doing instead
    of raising KeyboardInterrupt wherever the signal lands: raised inside the first import of
    the numeric stack (a fresh venv compiles it), it left a half-initialised extension whose
    re-import in the final pass hung. A second Ctrl-C interrupts as usual. Off the main
    thread (signals cannot be set there) Ctrl-C raises as before."""

    def __enter__(self) -> threading.Event:
        self.stop = threading.Event()
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self.stop

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
