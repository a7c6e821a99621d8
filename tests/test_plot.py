"""The picture: rendered for real from an example, decoded, measured, and its marks found."""

from __future__ import annotations

import base64
import re
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from lossdoctor.cli import main
from lossdoctor.exitcodes import ExitCode

EXAMPLES = Path(__file__).parent.parent / "examples"
# Each render takes well under a second: these run with the fast tests (skipped without matplotlib).


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_png_has_its_size_and_the_finding_drawn_at_its_step(tmp_path: Path) -> None:
    image = pytest.importorskip("matplotlib.image")
    from lossdoctor.diagnose import Settings, diagnose_path
    from lossdoctor.report.plot import COLOR, DPI, SIZE, save_picture

    diag = diagnose_path(EXAMPLES / "overfitting", Settings.default())
    picture = save_picture(diag, tmp_path / "curves.png")
    pixels = image.imread(str(tmp_path / "curves.png"))
    assert pixels.shape[:2] == (int(SIZE[1] * DPI), int(SIZE[0] * DPI)) == (picture.height, picture.width)
    (marker,) = picture.markers
    assert marker.rule == "overfitting" and marker.step == 1000
    want = [int(COLOR[diag.findings[0].severity][i:i + 2], 16) / 255 for i in (1, 3, 5)]
    column = pixels[:, int(round(marker.x)), :3]
    hits = (abs(column - want).max(axis=1) < 0.05).sum()
    assert hits > picture.height * 0.5  # the line runs down both panels
    far = pixels[:, int(round(marker.x)) + 40, :3]
    assert (abs(far - want).max(axis=1) < 0.05).sum() < picture.height * 0.1  # and only there


def test_svg_names_the_finding_beside_its_line(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    code, _, err = invoke("diagnose", str(EXAMPLES / "overfitting"), "--plot", str(tmp_path / "c.svg"), "-q")
    assert code == ExitCode.OK, err
    svg = (tmp_path / "c.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "overfitting: Overfitting (step 1,000)" in svg
    assert "learning rate" in svg  # the second panel


def test_a_nan_run_marks_one_label_per_step(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    code, out, _ = invoke("diagnose", str(EXAMPLES / "nan"), "--plot", str(tmp_path / "n.svg"),
                          "--format", "plain", "--fail-on", "never")
    svg = (tmp_path / "n.svg").read_text(encoding="utf-8")
    assert "nan_loss: Loss is NaN or Inf ×5 (step 218)" in svg and "(log scale)" in svg
    assert f"picture: {tmp_path / 'n.svg'}" in out


def test_html_is_one_self_contained_file(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    code, _, _ = invoke("diagnose", str(EXAMPLES / "diverged"), "--format", "html", "-o", str(tmp_path / "r.html"),
                        "--fail-on", "never")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert code == ExitCode.OK and page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and not re.search(r'(src|href)="(?!data:)', page)
    data = re.search(r'src="data:image/png;base64,([^"]+)"', page)[1]
    assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert '<span class="bold red">verdict: ERROR</span>' in page and "divergence" in page


def test_markdown_embeds_the_picture(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    code, out, _ = invoke("diagnose", str(EXAMPLES / "overfitting"), "--format", "markdown", "--plot",
                          str(tmp_path / "my curves.png"))
    assert f"![training curves]({str(tmp_path).replace(' ', '%20')}/my%20curves.png)" in out


def test_without_matplotlib_a_clear_line_and_its_own_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, out, err = invoke("diagnose", str(EXAMPLES / "healthy"), "--plot", str(tmp_path / "c.png"))
    assert code == ExitCode.MISSING_EXTRA == 5 and out == ""
    assert err == 'lossdoctor: error: drawing a picture needs matplotlib: pip install "lossdoctor[plot]"\n'
    code, _, err = invoke("diagnose", str(EXAMPLES / "healthy"), "--format", "html")
    assert code == ExitCode.MISSING_EXTRA and "lossdoctor[plot]" in err


def test_a_picture_needs_a_known_suffix(tmp_path: Path) -> None:
    code, _, err = invoke("diagnose", str(EXAMPLES / "healthy"), "--plot", str(tmp_path / "c.jpg"))
    assert code == ExitCode.USAGE and "must be a .png or .svg file" in err


def test_a_step_matplotlib_cannot_tick_is_a_report_without_a_picture(tmp_path: Path) -> None:
    """An epoch of 1e308 (found by benchmarks/fuzz.py in an MAE log): matplotlib cannot place
    ticks, which was exit 70; the HTML report says so in place of the picture, --plot exits 3."""
    pytest.importorskip("matplotlib")
    log = tmp_path / "log.txt"
    log.write_text('{"loss": 4, "epoch": 1e308}\n')
    code, out, err = invoke("diagnose", str(log), "--format", "html")
    assert code == 0, err
    assert "<p>cannot draw the curves (" in out and "</html>" in out
    code, _, err = invoke("diagnose", str(log), "--plot", str(tmp_path / "p.png"))
    assert code == ExitCode.INPUT and err.count("\n") == 1 and "cannot draw the curves" in err


def test_matplotlib_overflowing_on_huge_steps_is_the_same_clean_no_picture(tmp_path: Path) -> None:
    """Steps of 1e308 repeated (fuzz case csv-steps-1e308): matplotlib's ticker overflowed in
    numpy and printed RuntimeWarnings on stderr with its own source lines, drawing nonsense.
    The overflow is now the same "cannot draw" as matplotlib's own refusal above."""
    pytest.importorskip("matplotlib")
    log = tmp_path / "log.csv"
    log.write_text(",loss\n5,5\n1e308,2\n1e308,2\n1e308,3\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning is an exception, so exit 70 below
        code, out, err = invoke("diagnose", str(log), "--format", "html")
    assert code == 0, err
    assert "<p>cannot draw the curves (overflow" in out and "</html>" in out
