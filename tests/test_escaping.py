"""Output that the reader acts on: every string from the data is neutralised for its medium.

Runs are built in tmp_path by the real writers' formats (a CSV whose headers are hostile, a
JSON-lines log whose keys are, a TensorBoard file whose tags are, file names that are), and
every output format of `diagnose` and `audit` is checked byte for byte: no raw control
character reaches a terminal, no line a CI runner reads can start a workflow command, no
Markdown escapes its code span or writes raw HTML, no CSV cell is a formula.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from lossdoctor.cli import main
from lossdoctor.report import escape
from test_sources_tensorboard import simple, write_events

ESC_TITLE = "\x1b]0;pwned\x07"  # sets the terminal title
CLEAR = "\x1b[2J"  # clears the screen
FORGE = "\n::error::forged"  # a new line a GitHub runner would obey
MASK = "\r::add-mask::secret"
STOP = "\n::stop-commands::tok"
OLD = "##[error]old style"
C1 = "\x9b31m"  # the one-byte CSI
MD = "`<img src=x onerror=alert(1)>`[link](http://evil.example)"
HOSTILE = f"loss{ESC_TITLE}{CLEAR}{FORGE}{MASK}{STOP}{OLD}{C1}{MD}"
# The CSV reader takes one newline inside a quoted header (two break its header scan: a
# reader matter, noted for the readers); the JSON key and the TensorBoard tag carry them all.
CSV_HOSTILE = f"loss{ESC_TITLE}{CLEAR}{C1}{OLD}{MD}{FORGE}"
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # tab/newline may be ours
COMMAND_LINE = re.compile(r"^\s*(::|.*##\[)")
ANNOTATION = re.compile(r"^::(error|warning|notice) file=[^,:]*,title=[^,:]*::[^\r\n]*$")

DIAGNOSE_FORMATS = ("plain", "rich", "json", "markdown", "github", "junit")
AUDIT_FORMATS = ("plain", "rich", "json", "csv", "markdown", "github", "junit")


def _rows(n: int = 12) -> list[tuple[int, float, float]]:
    """A loss that goes NaN at the end (nan_loss fires, naming the hostile series)."""
    return [(i, 2.0 - 0.1 * i if i < n - 1 else float("nan"), 2.1 - 0.1 * i) for i in range(n)]


def hostile_csv(folder: Path, name: str = "metrics.csv", header: str = CSV_HOSTILE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["epoch", header, "val_loss"])
        writer.writerows(_rows())
    return path


def hostile_jsonl(folder: Path) -> Path:
    """A key with a lone surrogate and ESC: valid JSON (`\\ud800`), no valid UTF-8 spelling."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "log.jsonl"
    key = HOSTILE + "\ud800"
    lines = [json.dumps({"step": i, key: loss, "val_loss": val}) for i, loss, val in _rows()]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")  # json.dumps keeps it ASCII
    return path


def hostile_events(folder: Path) -> Path:
    tag = HOSTILE.replace("loss", "loss/tb", 1)
    return write_events(folder, [simple(i, 1.0 + i, **{tag: loss, "val_loss": val}) for i, loss, val in _rows()])


@pytest.fixture()
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A root of hostile runs: headers, keys, tags and a file name."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("TF_BUILD", raising=False)
    root = tmp_path / "root"
    hostile_csv(root / "csv_run")
    hostile_jsonl(root / "jsonl_run")
    hostile_events(root / "tb_run")
    hostile_csv(root / "named", name=f"=cmd|x{FORGE}.csv", header="loss")
    return root


def invoke(*args: str) -> tuple[int, bytes, bytes]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout_bytes, result.stderr_bytes


def _text_checks(data: bytes, fmt: str) -> str:
    text = data.decode("utf-8")  # never a UnicodeEncodeError, never invalid UTF-8
    if fmt == "rich":
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # rich's own colours: the only escapes allowed
    assert not RAW_CONTROLS.search(text), (fmt, RAW_CONTROLS.search(text))
    for line in text.splitlines():
        if fmt == "github":
            assert ANNOTATION.match(line), line
        else:
            assert not line.lstrip().startswith("::"), (fmt, line)
    return text


def _targets(root: Path) -> list[str]:
    return [str(root / "csv_run"), str(root / "jsonl_run"), str(root / "tb_run"),
            str(next((root / "named").iterdir()))]


@pytest.mark.parametrize("fmt", DIAGNOSE_FORMATS)
def test_diagnose_neutralises_every_hostile_name(runs: Path, fmt: str) -> None:
    code, out, err = invoke("diagnose", *_targets(runs), "--format", fmt, "--fail-on", "never")
    assert code == 0, err
    text = _text_checks(out, fmt)
    _text_checks(err, "stderr")
    if fmt == "json":
        doc = json.loads(text)
        names = {f["metric"] for r in doc["runs"] for f in r["findings"]}
        assert {CSV_HOSTILE, HOSTILE + "\ud800", HOSTILE.replace("loss", "loss/tb", 1)} <= names
        return  # machine formats keep the data as it is (JSON escapes it)
    shown = ("loss\\x1b]0;pwned\\x07\\x1b[2J\\n::error::forged\\r::add-mask::secret\\n::stop-commands::tok"
             "##[error]old style\\x9b31m`<img src=x onerror=alert(1)>`[link](http://evil.example)")
    if fmt == "rich":  # rich wraps long lines at spaces (a terminal's width): check space-free parts
        assert "loss/tb\\x1b]0;pwned\\x07\\x1b[2J\\n::error::forged\\r::add-mask::secret" in text
    if fmt == "junit":
        root = ET.fromstring(out)  # still a well-formed XML document
        text = "\n".join(e.text or "" for e in root.iter("failure"))
        assert "<img" in text  # the parsed text: markup was escaped, not dropped
    if fmt in ("plain", "github", "junit"):
        assert f"  {shown}\\ud800 is NaN from step 11 on" in text or f"{shown}\\ud800 is NaN from step 11 on" in text
        assert "loss/tb\\x1b]0;pwned\\x07" in text
        assert "loss\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m##[error]old style`<img" in text  # the CSV header
    if fmt == "markdown":
        assert f"| ``{shown}\\ud800`` |" in text  # the metric cell: a code span its backticks cannot close
        plain = outside_code_spans(text)  # outside code spans: no raw HTML, no link
        assert "<img" not in plain and not re.search(r"(?<!\\)\]\(http", plain) and "&lt;img" in plain


def outside_code_spans(text: str) -> str:
    """Markdown with its code spans taken out (a run of n backticks, not escaped, up to the
    next run of exactly n), as CommonMark reads them."""
    out, i = [], 0
    for m in re.finditer(r"(?<!\\)`+", text):
        if m.start() < i:
            continue
        close = re.compile(rf"(?<!`){m[0]}(?!`)").search(text, m.end())
        if close is None:
            continue
        out.append(text[i:m.start()])
        i = close.end()
    return "".join(out) + text[i:]


@pytest.mark.parametrize("fmt", AUDIT_FORMATS)
def test_audit_neutralises_every_hostile_name(runs: Path, fmt: str) -> None:
    code, out, err = invoke("audit", str(runs), "--format", fmt, "--jobs", "1", "--fail-on", "never")
    assert code == 0, err
    text = _text_checks(out, fmt)
    _text_checks(err, "stderr")
    if fmt == "csv":
        cells = [row for row in csv.reader(io.StringIO(text))]
        named = next(r for r in cells if "cmd" in r[0])
        assert named[0] == "'=cmd|x\\n::error::forged.csv" or named[0].endswith("=cmd|x\\n::error::forged.csv")
        assert all(not c.startswith(("=", "+", "@")) for row in cells for c in row)
    if fmt in ("plain", "rich"):
        assert "named/=cmd|x\\n::error::forged.csv" in text  # relative to the root, escaped visibly


def test_a_csv_cell_that_starts_like_a_formula_is_guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    hostile_csv(tmp_path, name="=HYPERLINK(1).csv", header="loss")
    (tmp_path / "-2+3.csv").write_text("\x00\x01 not a log")  # an error row: its message starts with the path
    code, out, _ = invoke("audit", ".", "--format", "csv", "--jobs", "1", "--fail-on", "never")
    rows = list(csv.reader(io.StringIO(out.decode())))
    runs = {r[0] for r in rows[1:]}
    assert runs == {"'=HYPERLINK(1).csv", "'-2+3.csv"} or runs == {"./=HYPERLINK(1).csv", "./-2+3.csv"}
    assert escape.csv_cell("=1+1") == "'=1+1" and escape.csv_cell("-0.5") == "-0.5"
    assert escape.csv_cell("@SUM(A1)") == "'@SUM(A1)" and escape.csv_cell("\tx") == "'\\tx"


def test_under_github_actions_no_data_can_start_a_command(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for args in (("diagnose", *_targets(runs), "--format", "plain"),
                 ("diagnose", *_targets(runs), "--format", "markdown"),
                 ("audit", str(runs), "--format", "plain", "--jobs", "1"),
                 ("diagnose", str(runs / "nope.csv"), "--format", "plain")):
        code, out, err = invoke(*args, "--fail-on", "never")
        for line in (out + err).decode().splitlines():
            assert not COMMAND_LINE.match(line), (args, line)
    # A message that begins with the data: the runner would read it after leading spaces.
    assert escape.text("::error::x", ci=True) == "%3A%3Aerror%3A%3Ax"
    assert escape.text("a ##[error]b", ci=True) == "a ##%5Berror]b"
    code, out, _ = invoke("diagnose", _targets(runs)[1], "--format", "plain", "--fail-on", "never")
    assert (b"\n  loss\\x1b]0;pwned\\x07\\x1b[2J\\n%3A%3Aerror%3A%3Aforged\\r%3A%3Aadd-mask%3A%3Asecret"
            b"\\n%3A%3Astop-commands%3A%3Atok##%5Berror]old style\\x9b31m") in out


def test_the_error_boundary_escapes_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / f"run{FORGE}{CLEAR}.csv"
    bad.write_bytes(b"\x00\x01binary")
    code, out, err = invoke("diagnose", str(bad))
    assert code == 3 and out == b""
    line = err.decode()
    assert line.count("\n") == 1 and line.startswith("lossdoctor: error: ")
    assert "run\\n::error::forged\\x1b[2J.csv" in line and "\x1b" not in line


def test_rich_never_reads_markup_from_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = hostile_csv(tmp_path, header="loss[bold red]x[/]:smile:")
    code, out, _ = invoke("diagnose", str(path), "--format", "rich", "--no-color", "--fail-on", "never")
    assert "loss[bold red]x[/]:smile:" in out.decode()


def test_a_lone_surrogate_does_not_crash_any_renderer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = hostile_jsonl(tmp_path)
    for fmt in DIAGNOSE_FORMATS:
        code, out, err = invoke("diagnose", str(path), "--format", fmt, "--fail-on", "never")
        assert code == 0 and b"internal error" not in err, (fmt, err)
        out.decode("utf-8")


def test_escape_rules_for_each_medium() -> None:
    assert escape.text("a\x1b[2Jb\x07\x9b\u202e", ci=False) == "a\\x1b[2Jb\\x07\\x9b\\u202e"
    # Outside CI, a `::` that can begin a line (the value's start, or after a space where a report
    # wraps) is escaped; one inside a name is inert and stays.
    assert escape.text("::error::x", ci=False) == "%3A%3Aerror::x"
    assert escape.text("a ::error::x", ci=False) == "a %3A%3Aerror::x"
    assert escape.text("train::loss", ci=False) == "train::loss"
    assert escape.markdown("::error::x") == "\\::error::x"
    assert escape.command_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert escape.command_data("100%\r\n") == "100%25%0D%0A"
    assert escape.markdown("# h <b>&</b> [x](y) *e* _u_ | `c`") == \
        "\\# h &lt;b&gt;&amp;&lt;/b&gt; \\[x\\](y) \\*e\\* \\_u\\_ \\| \\`c\\`"
    assert escape.markdown("- item") == "\\- item" and escape.markdown("1. item") == "1\\. item"
    assert escape.markdown("see https://x.example") == "see https:\\/\\/x.example"
    assert escape.markdown_code("a`b") == "``a`b``" and escape.markdown_code("`x") == "`` `x ``"
    assert escape.markdown_code("a|b", table=True) == "`a\\|b`"
    assert escape.html('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
