"""The report layer: numbers a person reads, early stopping after the fact, the knowledge
base, CI outputs that tell the truth, the audit table's width, and the CLI conventions."""

from __future__ import annotations

import io
import json
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from lossdoctor import __version__, numfmt
from lossdoctor.cli import main
from lossdoctor.commands.audit import AuditOptions, run_audit
from lossdoctor.commands.common import View
from lossdoctor.early_stop import analyse, gl_stop, patience_stop, pq_stop, training_progress, up_stop
from lossdoctor.exitcodes import ExitCode
from lossdoctor.knowledge import entries

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("GITHUB_ACTIONS", "NO_COLOR", "TF_BUILD"):
        monkeypatch.delenv(var, raising=False)


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


# ---- numbers --------------------------------------------------------------------------

def test_numbers_a_person_reads() -> None:
    assert numfmt.percent(0.9998) == "99.98%" and numfmt.percent(0.00004) == "0.004%"
    assert numfmt.percent(1.0) == "100%" and numfmt.percent(0.5) == "50%" and numfmt.percent(0.0) == "0%"
    assert numfmt.value(1838065732978196627005029440552960.0, ".1f") == "1.8e33"  # not 34 digits
    assert numfmt.value(25.66, ".1f") == "25.7" and numfmt.value(0.9998, ".0%") == "99.98%"
    assert numfmt.ratio(2.3e21) == "2.3e21×" and numfmt.ratio(25.66) == "25.7×"
    assert numfmt.orders_of_magnitude(2.3e21) == "21 orders of magnitude"
    assert numfmt.value(5e-05, ".3g") == "5e-5" and numfmt.value(2.869e12) == "2.869e12"
    assert numfmt.value(0.00030000000000000003) == "0.0003"
    assert numfmt.count(12345) == "12,345" and numfmt.step(12345.0) == "12,345" and numfmt.step(12.5) == "12.5"
    assert numfmt.plural(1, "error") == "1 error" and numfmt.plural(2, "error") == "2 errors"
    assert numfmt.plural(3, "more remedy", "more remedies") == "3 more remedies"
    assert numfmt.json_number(0.00030000000000000003) == 0.0003 and numfmt.json_number(0.1 + 0.2) == 0.3
    assert numfmt.json_number(float("nan")) == "nan" and numfmt.json_number(3.0) == 3


def test_json_has_no_float_noise() -> None:
    _, out, _ = invoke("diagnose", *(str(EXAMPLES / n) for n in ("overfitting", "diverged", "nan")), "--format", "json")
    assert "00000000" not in out and "9999999" not in out
    floats = re.findall(r"(?<![\w.])-?\d+\.\d+(?:e-?\d+)?", out)
    assert floats and all(len(re.sub(r"e.*|[-.]|^0+", "", f).lstrip("0")) <= numfmt.JSON_DIGITS for f in floats)
    doc = json.loads(out)
    over = doc["runs"][0]["findings"][0]["evidence"]
    # the rate to lower is the schedule's peak (9.951111e-06), not its decayed value at step 1,000
    assert over["lr"] == 9.951111e-06 and over["lr_at"] == 8.895556e-06 and over["lr_low"] == 9.951111e-07
    assert over["best_step"] == 1000


def test_audit_and_diagnose_count_alike() -> None:
    out = io.StringIO()
    run_audit(AuditOptions((EXAMPLES,), fmt="plain", jobs=1, fail_on="never"), out)
    assert re.search(r"^nan\s+lightning_csv\s+1,310\s+error", out.getvalue(), re.M)
    _, text, _ = invoke("diagnose", str(EXAMPLES / "nan"), "--format", "plain", "--fail-on", "never")
    assert "1,310 points" in text


# ---- early stopping -------------------------------------------------------------------

VAL = np.array([1.0, 0.8, 0.6, 0.5, 0.52, 0.55, 0.51, 0.58, 0.6, 0.62, 0.7, 0.72, 0.8, 0.85, 0.9,
                0.95, 1.0, 1.1, 1.2, 1.3])


def test_patience_counts_evaluations_without_a_new_best() -> None:
    # best 0.5 at index 3; 4, 5, 6 do not beat it -> patience 3 stops at 6; 8 for 5; 13 for 10
    assert [patience_stop(VAL, p) for p in (3, 5, 10)] == [6, 8, 13]
    assert patience_stop(np.array([3.0, 2.0, 1.0, 0.5]), 3) is None  # always improving
    assert patience_stop(np.array([1.0, 1.0, 1.0, 1.0]), 3) == 3  # equal is not better (min_delta 0)


def test_prechelt_gl_pq_up_by_hand() -> None:
    # GL(t) = 100 (E_va / E_opt - 1): 0.52/0.5 -> 4, 0.55/0.5 -> 10 > 5 at index 5
    assert gl_stop(VAL, 5.0) == 5 and gl_stop(VAL, 15.0) == 7  # 0.58/0.5 -> 16
    # UP_3 over strips of 5: strip ends 4, 9, 14, 19 -> 0.52, 0.62, 0.9, 1.3: rises at 9, 14, 19
    assert up_stop(VAL, 3, 5) == 19 and up_stop(VAL, 2, 5) == 14 and up_stop(VAL, 1, 5) == 9
    # P_5 over a strip 1.0, 1.0, 1.0, 1.0, 0.5: 1000 * (4.5 / (5 * 0.5) - 1) = 800
    assert training_progress(np.array([1.0, 1.0, 1.0, 1.0, 0.5]), 4, 5) == pytest.approx(800.0)
    # A flat training loss has progress 0: any generalisation loss then stops PQ at a strip end.
    flat = np.ones(len(VAL))
    assert pq_stop(VAL, flat, 0.5, 5) == 4  # GL(4) = 4 > 0, P = 0
    # Training still falling fast (P large): GL / P stays small, PQ never stops.
    assert pq_stop(VAL, np.linspace(1.0, 0.1, len(VAL)), 0.5, 5) is None
    # Hand-made: at t = 9, GL = 24; a strip 1.0 .. 1.0, 0.96 -> P = 1000 (4.96/4.8 - 1) = 33.3; 24/33.3 > 0.5
    # (the first strip falls: P = 1000 (12.8 / (5 * 2.0) - 1) = 280, GL(4) / P = 4 / 280: no stop)
    train = np.concatenate([[3.0, 2.8, 2.6, 2.4, 2.0], [1.0, 1.0, 1.0, 1.0, 0.96], np.full(10, 0.5)])
    assert pq_stop(VAL, train, 0.5, 5) == 9


def test_early_stopping_saves_compute_and_gives_up_loss() -> None:
    steps = np.arange(1, 21) * 100.0
    val = VAL.copy()
    val[15] = 0.4  # a later, better minimum: stopping at 5 gives up 0.5 - 0.4
    es = analyse(steps, val, steps, np.linspace(1.0, 0.1, 20), last_step=2000.0)
    stops = {s.criterion: s for s in es.stops}
    assert es.best == 0.4 and es.best_step == 1600.0 and es.evaluations == 20
    gl = stops["GL_5"]
    assert gl.step == 600.0 and gl.saved == pytest.approx((2000 - 600) / (2000 - 100))
    assert gl.best_at_stop == 0.5 and gl.given_up == pytest.approx(0.1)
    assert stops["patience_10"].step == 1400.0 and stops["PQ_0.5"].step is None
    assert analyse(steps[:3], val[:3]) is None  # too few evaluations to say anything


def test_training_loss_at_each_evaluation_survives_values_near_the_largest_float() -> None:
    """E_tr is the mean training loss since the previous evaluation. Running sums of 1e308s
    overflowed (a RuntimeWarning, then inf - inf = NaN), and a running sum's difference lost
    the later, ordinary interval entirely; each interval is now summed on its own."""
    from lossdoctor.early_stop import train_at_evaluations

    steps = np.array([1.0, 2.0, 3.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = train_at_evaluations(np.array([2.0, 4.0]), steps, np.array([1e308, 1.5e308, 1.0, 3.0]))
        assert got.tolist() == [1.25e308, 2.0]
        # an evaluation with no new training point takes the last one; NaNs are left out
        got = train_at_evaluations(np.array([1.0, 1.5, 3.0, 4.0]), steps, np.array([0.3, np.nan, 0.1, 0.05]))
        assert got.tolist() == [0.3, 0.3, 0.1, 0.05]
        # the same means where the rules align a per-step training loss with validation
        from lossdoctor.engine.curves.timescale import interval_means

        got = interval_means(steps, np.array([1e308, 1.5e308, 1.0, 3.0]), np.array([0.0, 2.0, 4.0]))
        assert got.tolist() == [1.25e308, 2.0]


def test_early_stopping_in_the_report_and_the_json() -> None:
    _, out, _ = invoke("diagnose", str(EXAMPLES / "overfitting"), "--format", "plain")
    assert "early stopping, after the fact (best val 0.3075 at step 1,000, 5 evaluations):" in out
    assert re.search(r"patience 3 +step 4,000: saves 20% of the steps, gives up nothing", out)
    assert "would not have stopped: patience 5, patience 10, PQ > 0.5 (strips of 5), UP 3 (strips of 5)" in out
    _, out, _ = invoke("diagnose", str(EXAMPLES / "overfitting"), "--format", "json")
    es = json.loads(out)["runs"][0]["early_stopping"]
    assert es["best_step"] == 1000 and {s["criterion"] for s in es["stops"]} == {
        "patience_3", "patience_5", "patience_10", "GL_5", "PQ_0.5", "UP_3"}
    _, out, _ = invoke("diagnose", str(EXAMPLES / "nan"), "--format", "json", "--fail-on", "never")
    assert json.loads(out)["runs"][0]["early_stopping"] is None  # no validation curve


# ---- the knowledge base ---------------------------------------------------------------

def test_explain_lists_and_explains_every_entry() -> None:
    code, out, _ = invoke("explain")
    assert code == 0
    ids = re.findall(r"^  (P\d+) +\S", out, re.M)
    assert ids == [f"P{i}" for i in range(1, 31)] == list(entries())
    code, out, _ = invoke("explain", "P19")
    assert code == 0 and out.startswith("P19 — One huge activation overflows exp")
    assert "What to try:" in out and "Rules that cite it: nan_loss" in out
    code, out, err = invoke("explain", "P91")
    assert code == ExitCode.USAGE and "no knowledge-base entry 'P91' (did you mean 'P9'?)" in err


def test_every_cited_entry_exists_and_is_in_our_own_words() -> None:
    from lossdoctor.engine import default_rules

    cited = {k for r in default_rules() for k in r.knowledge}
    assert cited <= set(entries())
    shared = Path("/work/shared/knowledge/PATTERNS.md")
    if shared.is_file():  # the digest the entries were written from: no sentence copied
        digest = shared.read_text(encoding="utf-8")
        for e in entries().values():
            for text in (e.seen, *e.why, *e.remedies):
                assert text.rstrip(".") not in digest, (e.id, text)


def test_every_remedy_cites_an_entry_the_report_hint_explains() -> None:
    _, out, _ = invoke("diagnose", str(EXAMPLES / "diverged"), "--format", "plain")
    assert "(more: lossdoctor rules show divergence · lossdoctor explain P6 P12 P13 P15 P28)" in out


# ---- CI outputs -----------------------------------------------------------------------

def _readme_commands(fmt: str) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"lossdoctor diagnose runs/ci [^\n]*--format {fmt}[^\n]*", readme)


def test_the_readme_junit_recipe_shows_a_nan_run_as_failed(tmp_path: Path) -> None:
    commands = _readme_commands("junit")
    assert commands, "the README has a JUnit recipe"
    for command in commands:
        args = command.split("#")[0].split()[1:]
        args = [str(EXAMPLES / "nan") if a == "runs/ci" else a for a in args]
        code, _, _ = invoke(*args)
        assert code == ExitCode.OK  # --fail-on never: the gate is elsewhere
        root = ET.fromstring((tmp_path / "lossdoctor.xml").read_text(encoding="utf-8"))
        failed = {c.get("name") for c in root.iter("testcase") if c.find("failure") is not None}
        assert "nan_loss" in failed and int(root.get("failures")) >= 1
        assert all(c.get("time") is not None for c in root.iter("testcase"))


def test_diagnose_json_carries_verdict_gate_and_version() -> None:
    code, out, _ = invoke("diagnose", str(EXAMPLES / "nan"), str(EXAMPLES / "healthy"), "--format", "json")
    doc = json.loads(out)
    assert code == ExitCode.FINDINGS and doc["lossdoctor"] == __version__
    assert doc["gate"] == {"fail_on": "error", "failed": True}
    assert [(r["verdict"], r["fails_gate"]) for r in doc["runs"]] == [("error", True), ("info", False)]  # healthy: converged (info)
    _, out, _ = invoke("diagnose", str(EXAMPLES / "nan"), "--format", "json", "--fail-on", "never")
    assert json.loads(out)["gate"] == {"fail_on": "never", "failed": False}


def test_audit_as_a_ci_gate_over_many_runs() -> None:
    code, out, err = invoke("audit", str(EXAMPLES), "--format", "junit", "--jobs", "1")
    assert code == ExitCode.FINDINGS and "runs found" in err
    root = ET.fromstring(out)
    assert len(root.findall("testsuite")) == 4
    failed = {(s.get("name").split("/")[0], c.get("name")) for s in root.iter("testsuite")
              for c in s.iter("testcase") if c.find("failure") is not None}
    assert {("diverged", "divergence"), ("nan", "nan_loss"), ("overfitting", "overfitting")} <= failed
    code, out, _ = invoke("audit", str(EXAMPLES), "--format", "github", "--jobs", "1", "--fail-on", "never")
    assert code == ExitCode.OK
    kinds = [re.match(r"::(\w+) file=([^,]+),", line).groups() for line in out.splitlines()]
    assert ("error", "examples/diverged/metrics.csv") in kinds or any(k == "error" for k, _ in kinds)
    assert {k for k, _ in kinds} == {"error", "warning", "notice"}


# ---- the audit table ------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["plain", "rich"])
def test_the_audit_table_fits_a_100_column_terminal(fmt: str) -> None:
    out = io.StringIO()
    corpus = ROOT / "tests" / "data" / "corpus" / "runs"
    run_audit(AuditOptions((corpus,), fmt=fmt, jobs=1, fail_on="never", view=View(width=100, color=False)), out)
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in out.getvalue().splitlines()]
    assert max(len(line) for line in lines[:-1]) <= 100  # the summary line is a sentence
    body = [line for line in lines[1:-1] if not line.startswith("─")]
    verdicts = re.compile(r"\s(ok|info|warning|error|unreadable|no-loss)(\s|$)")
    assert all(verdicts.search(line) for line in body), body  # never cut
    assert not any(line.startswith(str(corpus)) for line in body)  # relative to the root
    header = lines[0].split()
    assert "run" in header and "verdict" in header and "format" not in header  # format gave way first


def test_the_audit_table_is_whole_in_a_pipe() -> None:
    out = io.StringIO()
    run_audit(AuditOptions((EXAMPLES,), fmt="plain", jobs=1, fail_on="never"), out)
    assert out.getvalue().splitlines()[0].split() == ["run", "format", "points", "verdict", "best", "val", "step",
                                                      "best", "val", "final", "val", "findings"]


def test_progress_bar_only_on_a_terminal_and_after_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    from lossdoctor.commands import audit as audit_command

    started = []
    monkeypatch.setattr(audit_command, "_start_bar", lambda total: started.append(total) or _Bar())
    with audit_command._progress(10) as tick:  # stderr is not a terminal here
        tick(5)
    assert started == []
    monkeypatch.setattr(audit_command.sys.stderr, "isatty", lambda: True, raising=False)
    clock = iter([0.0, 0.5, 1.5, 1.6])
    monkeypatch.setattr(audit_command.time, "monotonic", lambda: next(clock))
    with audit_command._progress(10) as tick:
        tick(2)  # at 0.5 s: no bar yet
        assert started == []
        tick(3)  # at 1.5 s: the bar starts, with what was done
        tick(1)
    assert started == [10]


class _Bar:
    def __init__(self) -> None:
        self.done = 0

    def add_task(self, name: str, total: int, completed: int) -> int:
        self.done = completed
        return 0

    def advance(self, task: int, n: int) -> None:
        self.done += n

    def stop(self) -> None:
        assert self.done == 6


# ---- CLI conventions ------------------------------------------------------------------

def test_quiet_and_verbose() -> None:
    _, normal, _ = invoke("diagnose", str(EXAMPLES / "nan"), "--format", "plain", "--fail-on", "never")
    _, quiet, _ = invoke("diagnose", str(EXAMPLES / "nan"), "-q", "--format", "plain", "--fail-on", "never")
    _, loud, _ = invoke("diagnose", str(EXAMPLES / "nan"), "-v", "--format", "plain", "--fail-on", "never")
    # one line per story: the NaN in 5 series is one, the unscaled loss another
    assert len(quiet.splitlines()) == 3 + 2 and "What to do" not in quiet
    assert "… 2 more remedies (-v shows all)" in normal and "more remedies" not in loud
    assert "For recurrent models use an LSTM/GRU" in loud and "evidence: " in loud
    assert len(quiet.splitlines()) < len(normal.splitlines()) < len(loud.splitlines())


def test_color_flags_and_no_color() -> None:
    path = str(EXAMPLES / "diverged")
    _, out, _ = invoke("diagnose", path, "--color", "--fail-on", "never")
    assert "\x1b[" in out  # forced colour, even into a pipe
    _, out, _ = invoke("diagnose", path, "--format", "rich", "--no-color", "--fail-on", "never")
    assert "\x1b[" not in out
    _, out, _ = invoke("diagnose", path, "--color", "--fail-on", "never", env={"NO_COLOR": "1"})
    assert "\x1b[" in out  # the flag wins over the variable
    _, out, _ = invoke("diagnose", path, "--format", "rich", "--fail-on", "never", env={"NO_COLOR": "1"})
    assert "\x1b[" not in out


def test_did_you_mean() -> None:
    code, _, err = invoke("diagnose", str(EXAMPLES / "nan"), "--formt", "json")
    assert code == ExitCode.USAGE and "Did you mean" in err and "'--format'" in err
    code, _, err = invoke("diagnose", str(EXAMPLES / "nan"), "--ignore", "overfiting")
    assert code == ExitCode.USAGE and "did you mean 'overfitting'?" in err
    code, _, err = invoke("diagnose", str(EXAMPLES / "nan"), "--fail-on", "warnin")
    assert code == ExitCode.USAGE and "did you mean 'warning'?" in err
    code, _, err = invoke("audit", str(EXAMPLES), "--only", "nan_los")
    assert code == ExitCode.USAGE and "did you mean 'nan_loss'?" in err
    Path("lossdoctor.yaml").write_text("fail_on: warning\n")
    code, _, err = invoke("rules")
    assert code == ExitCode.USAGE and "unknown key 'fail_on' (did you mean 'fail-on'?)" in err


def test_shell_completion_of_rule_ids() -> None:
    complete = ShellComplete(main, {}, "lossdoctor", "_LOSSDOCTOR_COMPLETE")
    got = [c.value for c in complete.get_completions(["diagnose", "x.csv", "--ignore"], "over")]
    assert got == ["overfitting"]
    got = [c.value for c in complete.get_completions(["rules", "show"], "nan")]
    assert got == ["nan_loss"]
    got = [c.value for c in complete.get_completions(["diagnose", "x.csv", "--fail-on"], "nan_loss,div")]
    assert got == ["nan_loss,divergence"]
    assert "warning" in [c.value for c in complete.get_completions(["audit", ".", "--fail-on"], "w")]
    assert [c.value for c in complete.get_completions(["explain"], "P2")][:2] == ["P2", "P20"]


def test_rules_check_lists_every_error_in_every_file(tmp_path: Path) -> None:
    rules = tmp_path / "team"
    rules.mkdir()
    (rules / "a.yaml").write_text("id: a\ntitle: A\nseverity: loud\nwhen: {nonfinite: {slot: series}}\n"
                                  "message: m\nremedies: [r]\n")
    (rules / "b.yaml").write_text("id: b\ntitle: B\nseverity: error\nwhen: {nonfinit: {slot: series}}\n"
                                  "message: m\nremedies: [r]\n")
    good = "  - id: {0}\n    title: T\n    severity: error\n    when: {{nonfinite: {{slot: series}}}}\n" \
           "    message: m\n    remedies: [r]\n"
    (rules / "c.yaml").write_text("rules:\n" + good.format("c1") + good.format("c2").replace("error", "bad")
                                  + good.format("c3").replace("nonfinite", "nope"))
    code, out, err = invoke("rules", "check", str(rules))
    assert code == ExitCode.USAGE and out == ""
    lines = err.splitlines()
    assert len(lines) == 4 and all(line.startswith("lossdoctor: error: ") for line in lines)
    assert "a.yaml: rule a" in lines[0] and "b.yaml: rule b" in lines[1]
    assert "rule c2" in lines[2] and "rule c3" in lines[3] and lines[3].endswith("(4 errors in 3 files)")


def test_rules_as_json() -> None:
    code, out, _ = invoke("rules", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["version"] == 1
    over = next(r for r in doc["rules"] if r["id"] == "overfitting")
    assert over["severity"] == "warning" and over["knowledge"] == ["P2", "P3", "P9"] and over["params"]
    assert over["milder"] == {"title": "Overfitting has begun", "severity": "info"}
    assert next(r for r in doc["rules"] if r["id"] == "plateau")["milder"] is None


def test_a_metric_naming_a_missing_series_is_a_usage_error() -> None:
    code, out, err = invoke("diagnose", str(EXAMPLES / "overfitting"), "--metric", "val_loss=nope")
    assert code == ExitCode.USAGE and out == ""
    assert err.count("\n") == 1 and "val_loss=nope: no series named 'nope'" in err


def test_output_short_option(tmp_path: Path) -> None:
    code, out, _ = invoke("diagnose", str(EXAMPLES / "healthy"), "-o", str(tmp_path / "r.txt"), "--format", "plain")
    assert code == 0 and out == "" and "verdict: healthy" in (tmp_path / "r.txt").read_text(encoding="utf-8")


def test_one_event_in_several_series_is_one_story_with_its_remedies_once() -> None:
    """examples/nan: five loss terms turn NaN at step 218: one block naming the other four."""
    _, out, _ = invoke("diagnose", str(EXAMPLES / "nan"), "--format", "plain", "--fail-on", "never")
    assert out.count("ERROR   nan_loss") == 1 and "(5 series, from step 218)" in out
    assert "The same in: Conductor_Copper_loss, Dielectric_Air_loss," in out
    assert out.count("Discard the weights from step 218 on and restart from the last checkpoint saved before step 218") == 1
    assert "verdict: ERROR — mean_loss is NaN from step 218 (and in 4 more series)  1 error · 1 info" in out
    _, md, _ = invoke("diagnose", str(EXAMPLES / "nan"), "--format", "markdown", "--fail-on", "never")
    assert md.count("#### `nan_loss`") == 1 and "**The same in:**" in md
    _, js, _ = invoke("diagnose", str(EXAMPLES / "nan"), "--format", "json", "--fail-on", "never")
    # the findings themselves stay one per series: the gate, JSON and JUnit see each
    assert [f["rule"] for f in json.loads(js)["runs"][0]["findings"]].count("nan_loss") == 5


def test_a_climb_that_ends_in_nan_is_one_story_with_a_timeline() -> None:
    from lossdoctor.findings import Diagnosis, Finding, Severity
    from lossdoctor.report.stories import stories

    def f(rule: str, metric: str, step: float, summary: str) -> Finding:
        return Finding((-3, step), rule, Severity.ERROR, rule, "m", metric, step, None, {}, ("r",), (), summary)

    diag = Diagnosis("x", metrics={"train_loss": "loss", "val_loss": "val"}, findings=[
        f("nan_loss", "val", 417, "val is NaN from step 417"), f("divergence", "loss", 401, "loss climbs"),
        f("nan_loss", "loss", 410, "loss is Inf from step 410")])
    (story,) = stories(diag)
    assert story.lead.rule == "divergence" and story.rules == ("divergence", "nan_loss")
    assert [e.summary for e in story.timeline] == ["loss climbs", "loss is Inf from step 410", "val is NaN from step 417"]
    assert story.remedies == ("r",)
    # a NaN *before* the climb is its own story
    early = Diagnosis("x", findings=[f("nan_loss", "val", 100, "s"), f("divergence", "loss", 401, "s")])
    assert len(stories(early)) == 2


@pytest.mark.parametrize("epochs,verdict", [(3, "too short to judge"), (4, "too short to judge"), (5, "healthy")])
def test_a_log_too_short_for_any_course_reading_is_not_called_healthy(tmp_path: Path, epochs: int, verdict: str) -> None:
    """Under five points no trend, fit or plateau reading is possible: no finding is then no
    sign of health, and the verdict says so (with the count), in text and in markdown."""
    log = tmp_path / "training_log.csv"
    rows = "".join(f"{e},{1.0 * 0.9 ** e:.4f},{1.1 * 0.92 ** e:.4f}\n" for e in range(epochs))
    log.write_text("epoch,loss,val_loss\n" + rows)
    code, out, _ = invoke("diagnose", str(log), "--format", "plain")
    assert code == ExitCode.OK and f"verdict: {verdict}" in out
    code, md, _ = invoke("diagnose", str(log), "--format", "markdown")
    assert ("too short to judge: loss has " in md) == (verdict != "healthy")
    if verdict != "healthy":
        assert f"has {epochs} points; a course is read from 5 or more" in out
    # The JSON record and an audit's row carry it as the verdict `short` (from 5 points, the
    # worst severity: info here, for a curve still falling).
    code, js, _ = invoke("diagnose", str(log), "--format", "json")
    word = json.loads(js)["runs"][0]["verdict"]
    assert code == ExitCode.OK and (word == "short") == (verdict != "healthy") and word in ("short", "ok", "info")
    code, rows, _ = invoke("audit", str(tmp_path), "--format", "json", "--jobs", "1")
    assert code == ExitCode.OK and [r["verdict"] for r in json.loads(rows)["runs"]] == [word]
