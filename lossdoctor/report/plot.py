"""A picture of one run: train/val loss (log scale when the range calls for it), the learning
rate on a second panel, and every finding marked at its step with its title beside it.

matplotlib is an optional extra (`pip install "lossdoctor[plot]"`), imported here only, and
only through its object API on an Agg canvas (no pyplot, no global backend, no display).
Text from the data is shown as text: `$` would start mathtext, so it is escaped.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import numfmt
from ..errors import ConfigError, InputError, MissingExtra, OutputError
from ..findings import Diagnosis, Severity
from ..frame import Series
from . import escape
from .sparkline import wants_log

COLOR = {Severity.ERROR: "#d62728", Severity.WARNING: "#ff7f0e", Severity.INFO: "#1f77b4"}
CURVE = {"train_loss": "#2ca02c", "val_loss": "#9467bd", "lr": "#7f7f7f"}
SIZE = (9.0, 5.5)  # inches
DPI = 100  # so a PNG is 900 x 550 pixels
FORMATS = {".png": "png", ".svg": "svg"}


@dataclass(frozen=True)
class Marker:
    """A finding drawn on the picture, and the pixel column it was drawn at (PNG coordinates)."""

    rule: str
    step: float
    x: float


@dataclass(frozen=True)
class Picture:
    """What was drawn: the image bytes, its size in pixels and the findings marked."""

    data: bytes
    kind: str  # png or svg
    width: int
    height: int
    markers: tuple[Marker, ...]


def _matplotlib() -> tuple[type, type]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtra('drawing a picture needs matplotlib: pip install "lossdoctor[plot]"') from None
    return Figure, FigureCanvasAgg


def label(text: object) -> str:
    """Data as matplotlib text: control characters visible, `$` not mathtext."""
    return escape.controls(text).replace("$", r"\$")


def draw(diag: Diagnosis, kind: str = "png", title: str | None = None) -> Picture:
    """Render the run's picture; raises MissingExtra without matplotlib, InputError when
    matplotlib cannot draw the values."""
    Figure, FigureCanvasAgg = _matplotlib()
    try:
        # Finite but huge values (a step of 1e308, a loss of 1e300 on a log axis): matplotlib
        # either refuses them or overflows in numpy and draws nonsense with a RuntimeWarning
        # (while scaling, ticking or laying out). The overflow is made an error, so both are
        # the same clean "cannot draw".
        with np.errstate(over="raise"):
            return _draw(diag, kind, title, Figure, FigureCanvasAgg)
    except (ValueError, OverflowError, FloatingPointError) as exc:
        raise InputError(diag.path, f"cannot draw the curves ({escape.text(exc)})") from None


def _draw(diag: Diagnosis, kind: str, title: str | None, Figure: type, FigureCanvasAgg: type) -> Picture:
    lr = diag.curves.get("lr")
    panels = 2 if lr is not None and len(lr) else 1
    fig = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False, height_ratios=[3, 1][:panels])[:, 0]
    loss_ax = axes[0]
    curves = [(r, diag.curves[r]) for r in ("train_loss", "val_loss") if r in diag.curves and len(diag.curves[r])]
    for role, series in curves:
        _curve(loss_ax, series, f"{role} ({label(series.name)})", CURVE[role])
    if any(wants_log(s) for _, s in curves):
        loss_ax.set_yscale("log")
    loss_ax.set_ylabel("loss" + (" (log scale)" if loss_ax.get_yscale() == "log" else ""))
    loss_ax.set_title(label(title or diag.path), fontsize=9, loc="left")
    if curves:
        loss_ax.legend(loc="best", fontsize=8)
    if panels == 2:
        _curve(axes[1], lr, f"lr ({label(lr.name)})", CURVE["lr"])
        axes[1].set_ylabel("learning rate")
        if wants_log(lr):
            axes[1].set_yscale("log")
    axes[-1].set_xlabel("step")
    _mark_findings(diag, axes)
    with warnings.catch_warnings():
        # Best effort: when the axes cannot shrink around their labels (an x axis of 10^18
        # steps, ticks in long exponents) matplotlib keeps the layout it has and warns; the
        # picture is still drawn, so there is nothing to tell the reader.
        warnings.filterwarnings("ignore", message="Tight layout not applied", category=UserWarning)
        fig.tight_layout()
    return _render(fig, kind, diag)


def _curve(ax: object, series: Series, name: str, color: str) -> None:
    values = np.where(np.isfinite(series.values), series.values, np.nan)
    ax.plot(series.steps, values, color=color, linewidth=1.2, label=name)
    _nonfinite(ax, series, color)


def _mark_findings(diag: Diagnosis, axes: object) -> None:
    """A vertical line at each finding's step on every panel; beside it, once per step, the
    rules that fired there with their titles (five series NaN at one step: one label, x5)."""
    at: dict[float, list] = {}
    for f in diag.findings:
        if f.step is not None and np.isfinite(f.step):
            at.setdefault(float(f.step), []).append(f)
    for step, found in at.items():
        worst = max(f.severity for f in found)
        for ax in axes:
            ax.axvline(step, color=COLOR[worst], linewidth=2.0, alpha=1.0, zorder=5)
        names = {}
        for f in found:
            names[(f.rule, f.title)] = names.get((f.rule, f.title), 0) + 1
        text = "; ".join(f"{label(r)}: {label(t)}" + (f" ×{n}" if n > 1 else "") for (r, t), n in names.items())
        axes[0].annotate(f" {text} (step {numfmt.step(step)})", (step, 1.0), xycoords=("data", "axes fraction"),
                         rotation=90, va="top", ha="left", fontsize=7, color=COLOR[worst], annotation_clip=False)


def _nonfinite(ax: object, series: Series, color: str) -> None:
    """NaN/Inf points as x marks along the bottom edge (the curve itself cannot show them)."""
    bad = ~np.isfinite(series.values)
    if bad.any():
        ax.plot(series.steps[bad], np.full(int(bad.sum()), 0.02), "x", color=color, markersize=4,
                transform=ax.get_xaxis_transform(), label=None)


def _render(fig: object, kind: str, diag: Diagnosis) -> Picture:
    fig.canvas.draw()  # fixes the layout, so the markers' pixel columns are final
    width, height = (int(v) for v in fig.canvas.get_width_height())
    top = fig.axes[0]
    markers = tuple(Marker(f.rule, float(f.step), float(top.transData.transform((f.step, 0))[0]))
                    for f in diag.findings if f.step is not None and np.isfinite(f.step))
    buffer = io.BytesIO()
    from matplotlib import rc_context

    # SVG text as <text> elements (searchable, smaller; matplotlib escapes it as XML).
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "lossdoctor"}):
        fig.savefig(buffer, format=kind, dpi=DPI, metadata={"Software": None} if kind == "png" else {"Date": None})
    return Picture(buffer.getvalue(), kind, width, height, markers)


def save_picture(diag: Diagnosis, path: Path, title: str | None = None) -> Picture:
    """Draw into `path`; its suffix says PNG or SVG."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(f"--plot {escape.text(path)}: the picture must be a .png or .svg file")
    picture = draw(diag, kind, title)
    try:
        path.write_bytes(picture.data)
    except OSError as exc:
        raise OutputError(f"--plot {escape.text(path)}",
                          f"cannot write the picture: {(exc.strerror or str(exc)).lower()}") from None
    return picture
