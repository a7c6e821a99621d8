"""Predicates on facts about the run rather than its numbers: format, producer, axis, presence."""

from __future__ import annotations

from ..params import Count, Names, Slot
from ..subject import Subject
from .core import Evidence, curve_of


def format_is(subj: Subject, formats: Names) -> Evidence | None:
    """The run's log format is one of `formats`."""
    return {} if subj.format in formats else None


def produced_by(subj: Subject, tools: Names) -> Evidence | None:
    """The log follows the naming conventions of one of `tools` (ultralytics, detectron2)."""
    return {} if subj.producer in tools else None


def axis_is(subj: Subject, slot: Slot, axes: Names) -> Evidence | None:
    """The series in `slot` is indexed by one of `axes` (step, epoch, row)."""
    s = subj.series(slot)
    return {} if s is not None and s.axis in axes else None


def has(subj: Subject, slot: Slot, min_points: Count = 1) -> Evidence | None:
    """The slot holds a series with at least `min_points` finite points."""
    return {} if curve_of(subj, slot, min_points) is not None else None
