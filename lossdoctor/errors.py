"""Typed errors. Library code raises these; only the CLI turns them into exit codes."""

from __future__ import annotations

from .exitcodes import ExitCode


class LossdoctorError(Exception):
    """Base of every error lossdoctor reports to a user as one line."""

    exit_code: ExitCode = ExitCode.INTERNAL
    kind: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class PathError(LossdoctorError):
    """An error about one input path: the message is `<path>: <problem>`."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class InputError(PathError):
    """A log that cannot be read: the message names the file and the problem."""

    exit_code = ExitCode.INPUT
    kind = "input"


class ManyRuns(PathError):
    """`lossdoctor.diagnose(path)` on a path that holds several runs: `runs` names them
    (`lossdoctor.diagnose_all` diagnoses each)."""

    exit_code = ExitCode.USAGE
    kind = "usage"

    def __init__(self, path: object, runs: list[str]) -> None:
        self.runs = runs
        shown = ", ".join(runs[:3]) + (", ..." if len(runs) > 3 else "")
        super().__init__(path, f"holds {len(runs)} runs ({shown}); use lossdoctor.diagnose_all")


class NothingToDiagnose(PathError):
    """The log was read but holds no loss series."""

    exit_code = ExitCode.NOTHING
    kind = "nothing"


class MetricNotFound(PathError):
    """A role mapped (by --metric or a config file) to a series the log does not have: a
    mistake in what the user asked, so exit 2 as for any bad option."""

    exit_code = ExitCode.USAGE
    kind = "usage"


class ConfigError(LossdoctorError):
    """A bad config file, rule file or option value: names the file and the path inside it."""

    exit_code = ExitCode.USAGE
    kind = "config"


class OutputError(PathError):
    """The report cannot be written where it goes: `where` is `--output PATH` or `standard
    output`, the problem the OS error's (no space left on device, no such file or directory)."""

    exit_code = ExitCode.OUTPUT
    kind = "output"

    @classmethod
    def of(cls, where: str, exc: OSError) -> "OutputError":
        return cls(where, f"cannot write the report: {(exc.strerror or str(exc)).lower()}")


class MissingExtra(LossdoctorError):
    """An optional dependency is not installed: the message says which extra brings it."""

    exit_code = ExitCode.MISSING_EXTRA
    kind = "missing-extra"
