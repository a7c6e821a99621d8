"""`--exec CMD`: a command run when a finding fails the gate.

The command line is split once, at start-up, with shlex (POSIX rules) and run as an argv
list, never through a shell: nothing from the data can become shell syntax. The finding
reaches the command twice: as its JSON record on standard input, and in LOSSDOCTOR_*
environment variables (rule, severity, step, metric, run, title, message). Its standard
output goes to watch's standard error, so a `--format jsonl` stream stays pure.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..report.escape import arrow

TIMEOUT = 300  # seconds a hook may take before it is stopped (a scancel or a Slack post takes one)


def parse_command(text: str) -> tuple[str, ...]:
    """The argv of `--exec`; a usage error when it is empty, badly quoted or not found."""
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise ConfigError(f"--exec {text}: {exc}") from None
    if not argv:
        raise ConfigError("--exec: empty command")
    if shutil.which(argv[0]) is None:
        raise ConfigError(f"--exec {text}: no such command '{argv[0]}'")
    return argv


def _env_value(value: Any) -> str:
    """An environment value (a NUL cannot be passed; numbers as their JSON text). A file name's
    undecodable byte (\\udc80-\\udcff as Python reads it) goes back as that byte; another lone
    surrogate (a JSON key's \\ud800) has no bytes at all and is passed as its escape."""
    text = (value if isinstance(value, str) else json.dumps(value)).replace("\x00", "\\x00")
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        text = arrow(text)
    return text


def environment(record: dict[str, Any]) -> dict[str, str]:
    """LOSSDOCTOR_RULE, _SEVERITY, _STEP, _METRIC, _RUN, _TITLE, _MESSAGE of a finding event."""
    names = ("rule", "severity", "step", "metric", "run", "title", "message")
    return {f"LOSSDOCTOR_{n.upper()}": _env_value("" if record.get(n) is None else record.get(n)) for n in names}


@dataclass(frozen=True)
class Hook:
    """The command to run at a gate event."""

    argv: tuple[str, ...]

    def run(self, record: dict[str, Any]) -> int:
        """Run the command on one finding event; its exit status (-1: it could not run or timed out)."""
        env = {**os.environ, **environment(record)}
        payload = json.dumps(record, allow_nan=False, ensure_ascii=True).encode("ascii") + b"\n"  # as the events
        try:
            done = subprocess.run(list(self.argv), input=payload, env=env, stdout=sys.stderr,
                                  timeout=TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"lossdoctor: warning: --exec {self.argv[0]}: {exc}", file=sys.stderr)
            return -1
        return done.returncode
