"""Output formats, checked structurally: json, junit (parsed with ElementTree), github
annotations (a regex per line, escaping), markdown (table + remedies), auto selection."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from lossdoctor.cli import main
from lossdoctor.engine import default_rules
from lossdoctor.exitcodes import ExitCode
from lossdoctor.findings import Diagnosis, Finding, Severity
from lossdoctor.report import FORMATS, MACHINE_FORMATS, RenderOptions, resolve_format
from lossdoctor.report.github import render_github

EXAMPLES = Path(__file__).parent.parent / "examples"
DIVERGED, HEALTHY, OVERFIT = (str(EXAMPLES / n) for n in ("diverged", "healthy", "overfitting"))
ANNOTATION = re.compile(r"^::(error|warning|notice) file=([^,:]*),title=([^,:]*)::(.*)$")


@pytest.fixture(autouse=True)
def _no_project_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def finding(rule: str, severity: Severity, message: str = "m", title: str = "T") -> Finding:
    return Finding((-int(severity), 10.0), rule, severity, title, message, "loss", 10.0, 20.0,
                   {}, ("do this",), ("P1",))


def test_one_table_of_formats_serves_diagnose_and_audit() -> None:
    assert {n for n, f in FORMATS.items() if f.diagnose} == {"plain", "rich", "json", "markdown", "github",
                                                             "junit", "html"}
    assert {n for n, f in FORMATS.items() if f.audit} == {"plain", "rich", "json", "markdown", "github",
                                                          "junit", "csv"}
    assert {n for n, f in FORMATS.items() if f.sink} == {"jsonl", "parquet"}  # audit only, written as rows arrive
    assert MACHINE_FORMATS == {"json", "markdown", "github", "junit", "csv", "html", "jsonl", "parquet"}


def test_json_parses_with_one_run_per_path() -> None:
    code, out, err = invoke("diagnose", DIVERGED, HEALTHY, "--format", "json")
    assert code == ExitCode.FINDINGS and err == ""
    runs = json.loads(out)["runs"]
    # The MNIST run converged: an info note, which does not fail the gate.
    assert [r["findings"][0]["rule"] for r in runs if r["findings"]] == ["divergence", "plateau"]


def test_junit_one_suite_per_run_one_case_per_rule(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01binary")
    code, out, err = invoke("diagnose", DIVERGED, HEALTHY, str(bad), "--format", "junit",
                            "--ignore", "plateau")
    assert code == ExitCode.INPUT and "bad.csv" in err
    root = ET.fromstring(out)
    suites = root.findall("testsuite")
    assert len(suites) == 3 and suites[0].get("name").endswith("diverged/metrics.csv")
    names = [c.get("name") for c in suites[0].findall("testcase")]
    n = len(default_rules())  # one test case per packaged rule
    assert len(names) == n and len(set(names)) == n and "divergence" in names and "plateau" in names
    failed = [c.get("name") for c in suites[0].iter("testcase") if c.find("failure") is not None]
    assert failed == ["divergence"]
    assert "Lower the learning rate" in suites[0].find("testcase[@name='divergence']/failure").text
    assert suites[0].find("testcase[@name='plateau']/skipped") is not None
    assert (suites[0].get("tests"), suites[0].get("failures"), suites[0].get("skipped")) == (str(n), "1", "1")
    assert suites[1].get("failures") == "0" and suites[1].get("errors") == "0"
    assert [c.get("name") for c in suites[2]] == ["read"] and suites[2].find("testcase/error") is not None
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == (str(2 * n + 1), "1", "1")


def test_junit_says_what_was_found_whatever_the_gate() -> None:
    # A warning under the default error gate: exit 0, but the report still shows a failure.
    code, out, _ = invoke("diagnose", OVERFIT, "--format", "junit")
    assert code == ExitCode.OK
    fail = ET.fromstring(out).find("testsuite/testcase[@name='overfitting']/failure")
    assert fail.get("type") == "warning" and "step 1,000" in fail.text
    assert "below the --fail-on error gate" in fail.get("message")
    code, out, _ = invoke("diagnose", OVERFIT, "--format", "junit", "--fail-on", "warning")
    assert code == ExitCode.FINDINGS
    assert "fails the --fail-on warning gate" in ET.fromstring(out).find(
        "testsuite/testcase[@name='overfitting']/failure").get("message")


def test_junit_info_findings_pass_with_their_text() -> None:
    diag = Diagnosis(path="x.csv", findings=[finding("r_info", Severity.INFO, "just so you know")], seconds=0.5)
    out = io.StringIO()
    FORMATS["junit"].diagnose([diag], out, RenderOptions(rules=("r_info", "other")))
    suite = ET.fromstring(out.getvalue()).find("testsuite")
    case = suite.find("testcase[@name='r_info']")
    assert case.find("failure") is None and "just so you know" in case.find("system-out").text
    assert suite.get("time") == "0.500" and [c.get("time") for c in suite] == ["0.250", "0.250"]


def test_github_annotations_one_line_per_finding() -> None:
    code, out, err = invoke("diagnose", DIVERGED, HEALTHY, OVERFIT, "--format", "github")
    assert code == ExitCode.FINDINGS and err == ""
    lines = out.splitlines()
    matches = [ANNOTATION.match(line) for line in lines]
    assert all(matches), lines
    assert [(m[1], m[3]) for m in matches] == [("error", "divergence%3A Loss diverges"),
                                               ("notice", "plateau%3A Training has plateaued"),
                                               ("warning", "overfitting%3A Overfitting")]
    assert matches[0][2] == str(EXAMPLES / "diverged" / "metrics.csv")
    assert "%0AWhat to do%3A" not in matches[0][4] and "%0AWhat to do:%0A- Lower" in matches[0][4]


def test_github_escapes_message_and_properties() -> None:
    diag = Diagnosis(path="runs/a,b:c.csv", findings=[
        finding("r_info", Severity.INFO, "100% sure\r\nnext: step", title="50%, a:b"),
        finding("r_warn", Severity.WARNING), finding("r_err", Severity.ERROR)])
    out = io.StringIO()
    render_github([diag], out, RenderOptions())
    lines = out.getvalue().splitlines()
    assert [ANNOTATION.match(line)[1] for line in lines] == ["error", "warning", "notice"]  # worst first
    # The CR LF inside the message is data: shown as \r\n, never a line of its own.
    assert lines[2] == ("::notice file=runs/a%2Cb%3Ac.csv,title=r_info%3A 50%25%2C a%3Ab::"
                        "100%25 sure\\r\\nnext: step (loss, step 10)%0AWhat to do:%0A- do this%0A"
                        "(more: lossdoctor rules show r_info · lossdoctor explain P1)")


def test_github_relative_paths_and_unreadable_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("")
    code, out, _ = invoke("diagnose", str(bad), "--format", "github")
    assert code == ExitCode.INPUT
    m = ANNOTATION.match(out.strip())
    assert m and m[1] == "error" and m[2] == "bad.csv" and m[4].endswith("empty file")


def test_markdown_has_table_and_remedies() -> None:
    code, out, err = invoke("diagnose", DIVERGED, HEALTHY, "--format", "markdown")
    assert code == ExitCode.FINDINGS and err == ""
    lines = out.splitlines()
    header = lines.index("| severity | rule | finding | metric | step |")
    assert lines[header + 1] == "|---|---|---|---|---|"
    assert re.fullmatch(r"\| .*error \| `divergence` \| Loss diverges \| `train_loss` \| 499 \|", lines[header + 2])
    assert "- Lower the learning rate from 0.0005 to 5e-5 and restart from the last checkpoint saved before step 499 (P13)." in lines
    assert "❌ fails the gate (`--fail-on error`) · 1 error" in lines
    assert "✅ passes the gate (`--fail-on error`) · 1 info" in lines  # converged: an info note


def test_markdown_escapes_table_cells() -> None:
    out = io.StringIO()
    diag = Diagnosis(path="x.csv", findings=[finding("r", Severity.WARNING, title="a|b\nc")])
    FORMATS["markdown"].diagnose([diag], out, RenderOptions())
    assert "| 🟡 warning | `r` | a\\|b\\\\nc | `loss` | 10 |" in out.getvalue().splitlines()


@pytest.mark.parametrize("fmt", sorted(n for n in MACHINE_FORMATS if FORMATS[n].diagnose and n != "html"))
def test_machine_formats_write_only_the_payload(fmt: str, tmp_path: Path) -> None:
    untimed = lambda text: re.sub(r' time="[0-9.]+"', "", text)  # noqa: E731 - junit's measured times
    code, out, err = invoke("diagnose", DIVERGED, "--format", fmt)
    assert code == ExitCode.FINDINGS and err == "" and out
    target = tmp_path / "report.out"
    code, out2, err = invoke("diagnose", DIVERGED, "--format", fmt, "-o", str(target))
    assert code == ExitCode.FINDINGS and out2 == "" and err == ""
    assert untimed(target.read_text(encoding="utf-8")) == untimed(out)


def test_auto_is_github_under_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_format("auto", io.StringIO()) == "plain"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert resolve_format("auto", io.StringIO()) == "github"
    assert resolve_format("json", io.StringIO()) == "json"
    code, out, _ = invoke("diagnose", DIVERGED)
    assert code == ExitCode.FINDINGS and out.startswith("::error file=")


def test_every_diagnose_renderer_has_default_options() -> None:
    pytest.importorskip("matplotlib")  # html draws a picture
    for fmt in FORMATS.values():
        if fmt.diagnose:
            out = io.StringIO()
            fmt.diagnose([Diagnosis(path="x.csv")], out)
            assert out.getvalue() or fmt.name == "github", fmt.name
