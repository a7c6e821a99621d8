"""The process exit codes: one table, documented in the README and pinned by tests."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What `lossdoctor` returns to the shell."""

    OK = 0  # nothing at or above --fail-on
    FINDINGS = 1  # a finding at or above --fail-on
    USAGE = 2  # bad command line, config or rule file (click uses 2 for usage too)
    INPUT = 3  # a log that cannot be read
    NOTHING = 4  # read fine, but no loss series to diagnose
    MISSING_EXTRA = 5  # an optional part is not installed (pip install "lossdoctor[plot]")
    OUTPUT = 6  # the report could not be written (--output's folder missing, a full disk, stdout closed)
    INTERNAL = 70  # a bug in lossdoctor (EX_SOFTWARE); never a negative code
    INTERRUPTED = 130  # Ctrl-C
    BROKEN_PIPE = 141  # the reader of stdout went away (128 + SIGPIPE, as shells report it)
