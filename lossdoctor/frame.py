"""The common run model every parser produces: a Run holds named Series over an x-axis.

Parsers hand raw arrays to `make_series`, which applies the two rules every format
shares: a step that goes backwards means the run was restarted or resumed (later points
supersede earlier ones at the same or later steps), and several points logged at one
step are all kept, spread in logged order across that step.

Each restart begins an *attempt*; the steps where the later attempts begin are kept on the
series (`attempts`), so the curves are judged attempt by attempt: the level a restored
checkpoint starts from is not a rise of the attempt before it. A trainer that says in its
log that it restored a checkpoint (`Run.restores`) begins an attempt there too, even when
its step counter did not go back (`with_restores`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .errors import InputError
from .numfmt import plural

if TYPE_CHECKING:  # pandas is imported by the caller that has a frame, never here
    import pandas as pd

AXES = ("step", "epoch", "row")


@dataclass(frozen=True)
class Series:
    """One metric as logged: x positions (non-decreasing) and float64 values, NaN/Inf kept."""

    name: str
    steps: np.ndarray
    values: np.ndarray
    axis: str = "step"
    # True when the first points kept follow a superseded segment at about the same level:
    # a resumed run whose step counter restarted, so its first point is not a fresh start.
    resumed: bool = False
    # The first step of every later attempt (a restart or a logged restore), in step order.
    attempts: tuple[float, ...] = ()
    # The distinct steps as logged, when several points shared one and were spread across it
    # (`steps` then holds positions between logged steps; a finding names the logged one).
    logged: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.steps.shape != self.values.shape:
            raise ValueError(f"series {self.name!r}: steps and values differ in length")

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def finite(self) -> np.ndarray:
        """Mask of the finite values."""
        return np.isfinite(self.values)


@dataclass
class Run:
    """One training run: where it came from, its format, its series by original name."""

    path: str
    format: str
    series: dict[str, Series] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Steps at which the log says training resumed from a checkpoint, after it had trained
    # (the first step logged after each restore), and steps of checkpoints it says it saved.
    restores: list[float] = field(default_factory=list)
    checkpoints: list[float] = field(default_factory=list)
    # Checkpoints (step, path) already found beside the log (a run read from an object store:
    # found in discovery's listing); None: look for them beside `path` when a report needs them.
    saved: list[tuple[float, str]] | None = None
    # The hyper-parameters saved beside the log (hparams.yaml, args.yaml), when already read
    # (a stored run, from its local copy); None: read them beside `path` when needed.
    hparams: dict[str, float] | None = None

    @property
    def points(self) -> int:
        """Total number of logged points over all series."""
        return sum(len(s) for s in self.series.values())

    def add(self, series: Series | None) -> None:
        """Add a series; empty ones are dropped (a column with no values is not a metric)."""
        if series is not None and len(series):
            self.series[series.name] = series

    @classmethod
    def from_frame(cls, frame: "pd.DataFrame", step: str | None = "step", *,
                   missing: Literal["auto", "na", "nan"] = "auto", name: str = "<frame>") -> "Run":
        """A run from a pandas DataFrame of metrics: every numeric column is a series.

        The x-axis is the column named `step` when the frame has one (W&B's `_step` when it has
        that instead: its history), else the frame's index (a RangeIndex numbers the rows).
        Which cells mean "not logged on this row": None / pd.NA always. NaN, with
        `missing="auto"` (the default), by column: in a column whose NaN cells come between
        logged values -- a sparse frame, where NaN fills the rows a metric was not logged on
        (W&B `run.history()`, `pd.read_csv` of a Lightning metrics.csv) -- they are not logged
        (the run's notes say so), and in such a frame a column of nothing but NaN was never
        logged; in a column where NaN only ends the curve, they are logged values (a NaN loss
        is found). `missing="na"` counts every NaN as a logged value, `missing="nan"` none. A
        sparse column that turns NaN for good looks like one not logged any more: pass
        missing="na" (or a nullable dtype, "Float64", with pd.NA for the rows not logged) to
        have those NaNs found.
        """
        if missing not in ("auto", "na", "nan"):
            raise ValueError(f"missing={missing!r}: expected 'auto', 'na' or 'nan'")
        twice = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        if twice:
            raise InputError(name, f"the frame has more than one column named {', '.join(twice)}")
        run = cls(name, "dataframe")
        # W&B's run.history(): its step is `_step`, and its own keys (_runtime, _timestamp,
        # _wandb...) all start with an underscore: none is a metric.
        wandb = step == "step" and "step" not in frame.columns and "_step" in frame.columns
        steps, axis, skip = _frame_axis(frame, "_step" if wandb else step, run.notes)
        numeric = {column: v for column in frame.columns
                   if column != skip and not (wandb and str(column).startswith("_"))
                   and (v := _numbers(frame[column])) is not None}  # not text, dates, the axis
        fill = _nan_fills(numeric, missing, run.notes)
        for column, values in numeric.items():
            logged = ~_not_logged(frame[column], "na")
            if str(column) in fill:
                logged &= ~np.isnan(values)  # every NaN, a text "nan" in an object column too
            run.add(make_series(str(column), steps[logged], values[logged], axis, run.notes))
        return run


def _frame_axis(frame: "pd.DataFrame", step: str | None, notes: list[str]) -> tuple[np.ndarray, str, Any]:
    """The steps (the `step` column, else the index), the axis's unit, and the column that
    holds them (None for the index). Dates or labels: the rows, in order, are the steps."""
    if step is not None and step in frame.columns:
        column, axis, skip, said = frame[step], "epoch" if step == "epoch" else "step", step, f"its column {step!r}"
    else:
        column, axis, skip, said = frame.index.to_series(), "step", None, "its index"
    steps = _numbers(column)
    if steps is None:
        steps = np.arange(len(frame), dtype=np.float64)
        notes.append(f"the frame's x-axis, {said} ({column.dtype}), is not a number: its rows, in order, are the steps")
    return steps, axis, skip


def _nan_fills(numeric: dict, missing: str, notes: list[str]) -> set[str]:
    """The columns whose NaN cells are rows not logged: all with missing="nan", none with
    "na"; with "auto" the sparse ones (NaN between logged values) and, in a sparse frame, a
    column of nothing but NaN (no evaluation ran; in a dense frame it is a loss NaN from its
    first row). The notes name them."""
    if missing != "auto":
        return {str(c) for c in numeric} if missing == "nan" else set()
    sparse = [str(c) for c, v in numeric.items() if _nan_between_values(v)]
    never = [str(c) for c, v in numeric.items() if sparse and v.size and np.isnan(v).all()]
    if sparse:
        unlogged = f"; never logged: {', '.join(never)}" if never else ""
        notes.append(f"NaN cells between logged values read as rows not logged (a sparse frame): "
                     f"{', '.join(sparse)}{unlogged}; Run.from_frame(..., missing='na') counts them as NaN values")
    return set(sparse) | set(never)


def _nan_between_values(values: np.ndarray) -> bool:
    """A NaN cell comes before a finite value: the column fills the rows it was not logged on
    with NaN. (A loss that turns NaN stays NaN: its NaNs end the curve.)"""
    nan = np.isnan(values)
    finite = np.flatnonzero(np.isfinite(values))
    return bool(finite.size and nan[:finite[-1]].any())


def _numbers(column: Any) -> np.ndarray | None:
    """A frame column as float64 (None when it is not numeric: text, dates, objects)."""
    kind = getattr(column.dtype, "kind", "O")
    if kind == "b" or kind not in "iufO":
        return None
    if kind == "O":
        try:
            return np.array([np.nan if v is None or v is _na() else float(v) for v in column], np.float64)
        except (TypeError, ValueError):
            return None
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _na() -> Any:
    import pandas as pd  # the caller has a frame: pandas is loaded already
    return pd.NA


def _not_logged(column: Any, missing: str) -> np.ndarray:
    """Cells that hold no value: None / pd.NA (and, with missing="nan", NaN as well)."""
    if missing == "nan":
        return column.isna().to_numpy()
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iuf":
        return np.zeros(len(column), dtype=bool)  # a numpy column cannot hold pd.NA: every NaN is a value
    if column.dtype.kind != "O":  # pandas' nullable Float64 / Int64: their NA cells
        return column.isna().to_numpy()
    return np.array([v is None or v is _na() for v in column.astype(object)], dtype=bool)


def make_series(
    name: str,
    steps: np.ndarray,
    values: np.ndarray,
    axis: str = "step",
    notes: list[str] | None = None,
) -> Series | None:
    """Build a Series from points in logged order.

    Points whose step is missing are dropped (they cannot be placed); values are never
    dropped for being NaN/Inf. Returns None when nothing is left.
    """
    steps = np.asarray(steps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    placed = np.isfinite(steps)
    if not placed.all():
        steps, values = steps[placed], values[placed]
    if steps.size == 0:
        return None
    keep = _not_superseded(steps)
    resumed, attempts = False, ()
    if not keep.all():
        resumed = _continues(values, keep)
        attempts = _attempt_starts(steps, keep)
        if notes is not None:
            notes.append(_restart_note(name, axis, steps, keep, attempts))
        steps, values = steps[keep], values[keep]
    spread = _spread_ties(steps)
    return Series(name, spread, values, axis, resumed, attempts, None if spread is steps else np.unique(steps))


def _attempt_starts(steps: np.ndarray, keep: np.ndarray) -> tuple[float, ...]:
    """The first kept step of every later segment that still has kept points, past the
    first kept point (a restart from scratch that supersedes everything begins no attempt
    inside what is kept)."""
    back = np.flatnonzero(np.diff(steps) < 0) + 1
    first = float(steps[keep][0])
    return tuple(float(steps[b]) for b in back if keep[b] and steps[b] > first)


def _restart_note(name: str, axis: str, steps: np.ndarray, keep: np.ndarray, attempts: tuple[float, ...]) -> str:
    back = np.flatnonzero(np.diff(steps) < 0) + 1
    where = ", ".join(f"{axis} {_num(steps[b])} (after {_num(steps[b - 1])})" for b in back[:5])
    more = ", ..." if back.size > 5 else ""
    return (f"{name}: the {axis} went backwards {plural(back.size, 'time')} (a restarted or resumed run): "
            f"a new attempt starts at {where}{more}; kept the latest points for each {axis}, "
            f"dropped {plural(int((~keep).sum()), 'superseded point')}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def with_restores(run: Run) -> Run:
    """The run with its logged restores added to every step series' attempts (those inside
    the series' span), so rules judge each attempt on its own."""
    if not run.restores:
        return run
    for name, s in list(run.series.items()):
        if s.axis != "step" or not len(s):
            continue
        inside = {r for r in run.restores if s.steps[0] < r <= s.steps[-1]}
        if inside - set(s.attempts):
            run.series[name] = replace(s, attempts=tuple(sorted(set(s.attempts) | inside)))
    return run


def _continues(values: np.ndarray, keep: np.ndarray) -> bool:
    """Does the kept part start where the superseded part before it left off (within 25%)?

    A run restarted from scratch jumps back up to its initial loss; a resumed one goes on
    at the level it had reached.
    """
    first = int(np.argmax(keep))
    if first == 0:
        return False
    before, after = values[first - 1], values[first]
    if not (np.isfinite(before) and np.isfinite(after)) or before == 0:
        return False
    return bool(abs(after - before) <= 0.25 * abs(before))


def _not_superseded(steps: np.ndarray) -> np.ndarray:
    """Mask of points that no later segment (a restart at a step <= theirs) replaces."""
    back = np.flatnonzero(np.diff(steps) < 0) + 1  # first index of each later segment
    if back.size == 0:
        return np.ones(steps.shape, dtype=bool)
    # For every point, the lowest start step of any segment that begins after it.
    start_at = np.full(steps.shape, np.inf)
    start_at[back - 1] = steps[back]
    later_min = np.minimum.accumulate(start_at[::-1])[::-1]
    return steps < later_min


def logged_steps(series: Iterable[Series]) -> np.ndarray | None:
    """Every step the series were logged at, sorted, when some had points sharing a step
    (spread across it by make_series); None when every position is a logged step."""
    series = list(series)
    if all(s.logged is None for s in series):
        return None
    return np.unique(np.concatenate([s.steps if s.logged is None else s.logged for s in series]))


def as_logged(step: Any, logged: np.ndarray | None) -> Any:
    """The step as the log wrote it: a position between two logged steps (a point spread from
    a step several points shared) is at the one before it. Anything else is returned as is."""
    if logged is None or isinstance(step, bool) or not isinstance(step, (int, float)) or not np.isfinite(step):
        return step
    i = int(np.searchsorted(logged, step, side="right")) - 1
    return float(logged[i]) if i >= 0 else step


def _spread_ties(steps: np.ndarray) -> np.ndarray:
    """Give points that share a step distinct positions in [step, next step), in logged order."""
    if steps.size < 2 or not np.any(steps[1:] == steps[:-1]):
        return steps
    starts = np.concatenate(([True], steps[1:] != steps[:-1]))
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    rank = np.arange(steps.size) - first[group]
    size = np.diff(np.append(first, steps.size))[group]
    uniq = steps[first]
    gaps = np.diff(uniq)
    width = np.append(gaps, gaps[-1] if gaps.size else 1.0)[group]
    # Steps near 1e308 (a damaged log): the fraction first, as width * rank overflows, and the
    # last step's ties kept below the largest float rather than spread into inf.
    with np.errstate(over="ignore"):
        width = np.minimum(width, np.finfo(float).max - steps)
    return steps + width * (rank / size)
