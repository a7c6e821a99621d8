"""The command line: click parses options, a command function returns the exit code.

`main` is the one error boundary: typed LossdoctorErrors become one line on stderr and
their exit code; anything else is an internal error (a traceback only with --debug).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Callable, TextIO

import click

from . import __version__
from .commands import audit as audit_command
from .commands import diagnose as diagnose_command
from .commands import rules as rules_command
from .commands import watch as watch_command
from .commands import explain as explain_command
from .commands.common import View
from .completion import complete_fail_on, complete_knowledge, complete_rule_ids
from .errors import LossdoctorError, OutputError
from .exitcodes import ExitCode
from .report import FORMAT_CHOICES
from .report.escape import text as safe
from .report.output import STDOUT, GuardedStream, open_output, silence_stdout


def guarded(debug: bool, fn: Callable[[], ExitCode]) -> int:
    """Run a command and turn every way it can end into an exit code.

    Standard output is guarded for the command's length: a write that fails (a full disk,
    a closed stdout) is an OutputError (exit 6) like a bad --output, not a traceback.
    """
    real_stdout = sys.stdout
    sys.stdout = GuardedStream(real_stdout, STDOUT)  # type: ignore[assignment]
    try:
        code = int(fn())
        sys.stdout.flush()  # inside the boundary: a full disk says so here, not at exit
        return code
    except LossdoctorError as exc:
        if debug:
            traceback.print_exc()
        if isinstance(exc, OutputError) and exc.path == STDOUT:
            silence_stdout()  # what stdout still holds would fail again at exit
        click.echo(f"lossdoctor: error: {safe(exc.message)}", err=True)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("lossdoctor: interrupted", err=True)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # `lossdoctor ... | head`: the reader has what it wanted. Say nothing, and point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        silence_stdout()
        return int(ExitCode.BROKEN_PIPE)
    except Exception as exc:  # noqa: BLE001 - the boundary: a bug must not look like bad input
        if debug:
            traceback.print_exc()
        click.echo(f"lossdoctor: internal error: {type(exc).__name__}: {safe(exc)} "
                   "(run again with --debug for the traceback)", err=True)
        return int(ExitCode.INTERNAL)
    finally:
        sys.stdout = real_stdout


def writing(path: str | None, command: Callable[[TextIO | None], ExitCode]) -> ExitCode:
    """Run a command that reports to `--output PATH` (None: standard output)."""
    if path is None or path == "-":
        return command(None)
    with open_output(path) as stream:
        return command(stream)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lossdoctor")
def main() -> None:
    """Diagnose deep-learning training logs: what the curves say, and what to do."""


def _run_options(fn: Callable, output: click.Option | None = None) -> Callable:
    """The options `diagnose` and `audit` share: roles, ignored and extra rules, output, config."""
    options = (
        click.option("--metric", "metrics", multiple=True, metavar="ROLE=NAME",
                     help="Use series NAME for ROLE (train_loss, val_loss, train_acc, val_acc, lr, grad_norm, "
                          "loss_scale, skipped_steps)."),
        click.option("--ignore", multiple=True, metavar="RULE", shell_complete=complete_rule_ids,
                     help="Do not run this rule (repeatable)."),
        click.option("--rules", "rule_paths", multiple=True, type=click.Path(path_type=Path, readable=False),
                     help="Extra rule file or folder of *.yaml rules (repeatable)."),
        output or click.option("-o", "--output", type=click.Path(allow_dash=True), default=None, metavar="FILE",
                               help="Write the report to this file instead of stdout."),
        click.option("--config", "config", type=click.Path(path_type=Path, readable=False), default=None,
                     help="Config file (YAML, or a .toml with [tool.lossdoctor]) layered over the project's."),
    )
    for option in reversed(options):  # decorators apply bottom-up: keep the listed order in --help
        fn = option(fn)
    return fn


def _spike_gate(fn: Callable) -> Callable:
    """--max-spike-score: a gate over a whole run (diagnose, audit), not a finding watch can stop at."""
    return click.option("--max-spike-score", type=click.FloatRange(0, 1), default=None, metavar="X",
                        help="Also exit 1 when a run's spike score (OLMo's: the share of logged steps whose loss "
                             "or grad norm is above mean + 6 std of the 128 before) exceeds X, e.g. 0.001.")(fn)


def _view_options(fn: Callable) -> Callable:
    """-q/-v and --color/--no-color, as ruff and pytest spell them."""
    options = (
        click.option("-q", "--quiet", "quiet", count=True, help="Say less: one line per finding (audit: no summary)."),
        click.option("-v", "--verbose", "verbose", count=True, help="Say more: every remedy and the evidence numbers."),
        click.option("--color/--no-color", "color", default=None,
                     help="Colour the report (default: on a terminal, unless NO_COLOR is set)."),
    )
    for option in reversed(options):
        fn = option(fn)
    return fn


def _view(quiet: int, verbose: int, color: bool | None, output: object, plot: Path | None = None) -> View:
    """What -q/-v/--color/--plot ask for; the table fits the terminal when stdout is one."""
    if color is None and os.environ.get("NO_COLOR"):
        color = False
    width = None
    if output is None and sys.stdout is not None and sys.stdout.isatty():
        import shutil

        width = shutil.get_terminal_size((100, 24)).columns
    return View(verbosity=verbose - quiet, color=color, plot=plot, width=width)


@main.command()
# Plain strings: a Path would squash `s3://bucket` to `s3:/bucket`; `-` is standard input.
# readable=False: an unreadable log is lossdoctor's InputError (exit 3, naming the file), not click's usage error.
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True, readable=False))
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto", show_default=True,
              help="Output format; auto = github under GitHub Actions, rich on a terminal, plain otherwise.")
@click.option("--fail-on", default=None, metavar="SEVERITY|RULES", shell_complete=complete_fail_on,
              help="Exit 1 when a finding is at/above this severity (info, warning, error, never) "
                   "or is one of these comma-separated rule ids.  [default: error, or the config's fail-on]")
@_run_options
@_spike_gate
@click.option("--verify", is_flag=True,
              help="Check every TensorBoard record's data checksum (slower; length checksums are always checked).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Draw the curves, the learning rate and every finding into FILE (.png or .svg; "
                   'needs pip install "lossdoctor[plot]").')
@click.option("--rewind-plan", "rewind_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="Write each run's rewind-and-skip plan into DIR: rewind_plan.json, "
                                  "skip_batches.json (Lightning), megatron_args.txt (Megatron-DeepSpeed).")
@_view_options
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def diagnose(paths: tuple[str, ...], fmt: str, fail_on: str | None, metrics: tuple[str, ...],
             ignore: tuple[str, ...], rule_paths: tuple[Path, ...], output: str | None, config: Path | None,
             max_spike_score: float | None, verify: bool, plot: Path | None, rewind_dir: Path | None,
             quiet: int, verbose: int, color: bool | None, debug: bool) -> None:
    """Diagnose training logs: a log file (CSV, JSON lines, trainer_state.json, TensorBoard
    events, mlflow.db), a run folder, or a folder of runs (every run below is diagnosed);
    `-` reads a CSV or JSON-lines log from standard input."""
    view = _view(quiet, verbose, color, output, plot)
    sys.exit(guarded(debug, lambda: writing(output, lambda stream: diagnose_command.diagnose(
        paths, fmt, fail_on, metrics, ignore, rule_paths, stream, config=config, verify=verify, view=view,
        max_spike_score=max_spike_score, rewind_dir=rewind_dir))))


def _local_roots_exist(ctx: click.Context, param: click.Parameter, roots: tuple[str, ...]) -> tuple[str, ...]:
    """A local root must exist (a URL is listed later, by its store)."""
    from .sources.remote import is_url

    for root in roots:
        if not is_url(root) and not os.path.lexists(root):
            raise click.BadParameter(f"Path '{root}' does not exist.", ctx, param)
    return roots


def _audit_output(fn: Callable) -> Callable:
    return _run_options(fn, click.option(
        "-o", "--output", type=click.Path(allow_dash=True), default=None, metavar="PATH",
        help="Write the report to this file instead of stdout (parquet: a folder of parts)."))


@main.command()
# Plain strings: a Path would squash `s3://bucket` to `s3:/bucket`.
@click.argument("roots", nargs=-1, required=True, callback=_local_roots_exist)
@click.option("--format", "fmt", type=click.Choice(audit_command.AUDIT_FORMAT_CHOICES), default="table",
              show_default=True, help="table = rich on a terminal, plain text otherwise; github, junit: for CI; "
                                      "jsonl, parquet: one record per run, written as runs finish (in that order).")
@click.option("--fail-on", default=None, metavar="SEVERITY|RULES", shell_complete=complete_fail_on,
              help="Exit 1 when any run has a finding at/above this severity or one of these rule ids.  "
                   "[default: error, or the config's fail-on]")
@click.option("--sort", type=click.Choice(tuple(audit_command.SORT_KEYS)), default="run", show_default=True,
              help="Row order: run/format ascending; points, verdict, findings worst/largest first.")
@click.option("--only", multiple=True, metavar="RULE", shell_complete=complete_rule_ids,
              help="Show only runs where this rule fired (repeatable).")
@click.option("--min-severity", type=click.Choice(("info", "warning", "error")), default=None,
              help="Show only runs whose worst finding is at least this severe.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: all cores; 1 = in-process).")
@click.option("--follow-symlinks", is_flag=True, help="Follow symlinks that lead out of the roots.")
@click.option("--engine", type=click.Choice(("local", "dask")), default=None,
              help="Where runs are diagnosed: local processes (default), or a dask cluster "
                   '(pip install "lossdoctor[dask]").')
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="The dask scheduler (tcp://host:8786); implies --engine dask. Without it, dask starts "
                   "a LocalCluster of --jobs workers.")
@click.option("--show-skipped", is_flag=True,
              help="List every path left out below the table, with the reason (json, jsonl: always listed).")
@click.option("--resume", default=None, metavar="FILE",
              help="Skip the runs already recorded in FILE (an earlier --format jsonl/parquet output) "
                   "and append the others to it, unless --output names another file.")
@_audit_output
@_spike_gate
@_view_options
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def audit(roots: tuple[str, ...], fmt: str, fail_on: str | None, sort: str, only: tuple[str, ...],
          min_severity: str | None, jobs: int | None, follow_symlinks: bool, engine: str | None,
          scheduler: str | None, show_skipped: bool, resume: str | None, metrics: tuple[str, ...],
          ignore: tuple[str, ...], rule_paths: tuple[Path, ...], output: str | None, config: Path | None,
          max_spike_score: float | None,
          quiet: int, verbose: int, color: bool | None, debug: bool) -> None:
    """Find every run under ROOTS (TensorBoard, Lightning, HF Trainer, YOLO, MLflow, loose
    CSV/JSON logs), diagnose them all in parallel, and print one table (github/junit: a CI
    gate over every run)."""
    opts = audit_command.AuditOptions(roots, fmt, fail_on, metrics, ignore, rule_paths, jobs, sort,
                                      only, min_severity, follow_symlinks, config,
                                      _view(quiet, verbose, color, output), engine=engine or
                                      ("dask" if scheduler else "local"), scheduler=scheduler,
                                      output=output, resume=resume,
                                      max_spike_score=max_spike_score, show_skipped=show_skipped)
    sys.exit(guarded(debug, lambda: audit_command.run_audit(opts)))


@main.command()
@click.argument("path", type=click.Path(path_type=str, readable=False))
@click.option("--interval", type=click.FloatRange(min=0.05), default=5.0, show_default=True, metavar="SECONDS",
              help="Read what is new and judge again this often.")
@click.option("--format", "fmt", type=click.Choice(watch_command.WATCH_FORMATS), default="text", show_default=True,
              help="text: a line per finding, then the report; jsonl: one JSON event per line.")
@click.option("--fail-on", default=None, metavar="SEVERITY|RULES", shell_complete=complete_fail_on,
              help="Stop with exit 1 at the first finding at/above this severity or of these rule ids.  "
                   "[default: error, or the config's fail-on]")
@click.option("--exec", "exec_cmd", default=None, metavar="CMD",
              help="Run CMD (no shell) at a finding that fails the gate: the finding as JSON on its "
                   "stdin and in LOSSDOCTOR_RULE, LOSSDOCTOR_STEP, ... environment variables.")
@click.option("--keep-going", is_flag=True,
              help="Do not stop at the gate: run --exec at each failing finding and go on (exit 1 at the end).")
@click.option("--idle-timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Stop when no log has changed for this long (exit as diagnose would).")
@_run_options
@_view_options
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def watch(path: str, interval: float, fmt: str, fail_on: str | None, exec_cmd: str | None, keep_going: bool,
          idle_timeout: float | None, metrics: tuple[str, ...], ignore: tuple[str, ...],
          rule_paths: tuple[Path, ...], output: str | None, config: Path | None, quiet: int, verbose: int,
          color: bool | None, debug: bool) -> None:
    """Follow a run while it is written (TensorBoard, CSV, JSON lines, trainer_state.json, MLflow;
    a folder whose runs appear later): report each finding once when it appears and when it
    resolves, stop at the first one that fails the gate, Ctrl-C for the final diagnosis."""
    from .watch.session import WatchOptions

    opts = WatchOptions(path, interval, idle_timeout, keep_going, verbose - quiet)
    args = watch_command.WatchArgs(opts, fmt, fail_on, metrics, ignore, rule_paths, config, exec_cmd,
                                   _view(quiet, verbose, color, output))
    sys.exit(guarded(debug, lambda: writing(output, lambda stream: watch_command.watch(args, stream))))


def _config_options(fn: Callable) -> Callable:
    """--config and --rules, shared by the `rules` listings (they honour the config)."""
    fn = click.option("--rules", "rule_paths", multiple=True, type=click.Path(path_type=Path, readable=False),
                      help="Extra rule file or folder of *.yaml rules (repeatable).")(fn)
    return click.option("--config", "config", type=click.Path(path_type=Path, readable=False), default=None,
                        help="Config file layered over the project's (lossdoctor.yaml / pyproject.toml).")(fn)


@main.group(invoke_without_command=True)
@_config_options
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
              help="text: a table; json: every rule with its settings, for scripts.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def rules(ctx: click.Context, config: Path | None, rule_paths: tuple[Path, ...], fmt: str, debug: bool) -> None:
    """List the rules (id, severity, title, knowledge-base entries); `rules show ID` explains
    one; `rules check PATH...` validates custom rule files."""
    if ctx.invoked_subcommand is None:
        sys.exit(guarded(debug, lambda: rules_command.list_rules(config, rule_paths, fmt)))


@rules.command("show")
@click.argument("rule_id", metavar="ID", shell_complete=complete_rule_ids)
@_config_options
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def rules_show(rule_id: str, config: Path | None, rule_paths: tuple[Path, ...], debug: bool) -> None:
    """Explain one rule: what it means, the evidence it uses, its thresholds, remedies."""
    sys.exit(guarded(debug, lambda: rules_command.show_rule(rule_id, config, rule_paths)))


@rules.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def rules_check(paths: tuple[Path, ...], debug: bool) -> None:
    """Validate custom rule files or folders: `N rules OK`, or every located error (exit 2)."""
    sys.exit(guarded(debug, lambda: rules_command.check_rules(paths)))


@main.command()
@click.argument("entry", metavar="[ID]", required=False, shell_complete=complete_knowledge)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def explain(entry: str | None, debug: bool) -> None:
    """What a knowledge-base entry (P1-P30, as cited by the remedies) means: the symptom, its
    likely causes, the remedies. Without ID: the list of entries."""
    sys.exit(guarded(debug, lambda: explain_command.explain(entry)))
