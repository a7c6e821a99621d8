"""The command line: click parses options, a command function returns the exit code.

`main` is the one error boundary: typed LossdoctorErrors become one line on stderr and
their exit code; anything else is an internal error (a traceback only with --debug).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Callable

import click

from . import __version__
from .commands import diagnose as diagnose_command
from .errors import LossdoctorError
from .exitcodes import ExitCode
from .report import FORMAT_CHOICES


def guarded(debug: bool, fn: Callable[[], ExitCode]) -> int:
    """Run a command and turn every way it can end into an exit code."""
    try:
        return int(fn())
    except LossdoctorError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"lossdoctor: error: {exc.message}", err=True)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("lossdoctor: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the boundary: a bug must not look like bad input
        if debug:
            traceback.print_exc()
        click.echo(f"lossdoctor: internal error: {type(exc).__name__}: {exc} "
                   "(run again with --debug for the traceback)", err=True)
        return int(ExitCode.INTERNAL)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lossdoctor")
def main() -> None:
    """Diagnose deep-learning training logs: what the curves say, and what to do."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto", show_default=True,
              help="Output format; auto = rich on a terminal, plain otherwise.")
@click.option("--fail-on", default="error", show_default=True, metavar="SEVERITY|RULES",
              help="Exit 1 when a finding is at/above this severity (info, warning, error, never) "
                   "or is one of these comma-separated rule ids.")
@click.option("--metric", "metrics", multiple=True, metavar="ROLE=NAME",
              help="Use series NAME for ROLE (train_loss, val_loss, train_acc, val_acc, lr, grad_norm).")
@click.option("--ignore", multiple=True, metavar="RULE", help="Do not run this rule (repeatable).")
@click.option("--rules", "rule_paths", multiple=True, type=click.Path(path_type=Path),
              help="Extra rule file or folder of *.yaml rules (repeatable).")
@click.option("--output", type=click.File("w", encoding="utf-8"), default=None,
              help="Write the report to this file instead of stdout.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def diagnose(paths: tuple[Path, ...], fmt: str, fail_on: str, metrics: tuple[str, ...],
             ignore: tuple[str, ...], rule_paths: tuple[Path, ...], output, debug: bool) -> None:
    """Diagnose training logs: a file (CSV, JSON lines, trainer_state.json, TensorBoard
    event file) or a run folder."""
    sys.exit(guarded(debug, lambda: diagnose_command.diagnose(
        paths, fmt, fail_on, metrics, ignore, rule_paths, output)))
