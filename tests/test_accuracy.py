"""Accuracy on the two labeled sets in the repo, scored by benchmarks/score.py (the
development set's semantics), as a ratchet: a change that loses recall, precision, onsets
or adds a false alarm on a healthy run fails here; a gain passes and should raise the bar.

The labels say what each run is (the injected fault checked on its numbers; the corpus
MANIFEST's by-eye labels), so today's detectors do not meet the issue's target yet.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("score", ROOT / "benchmarks" / "score.py")
score = importlib.util.module_from_spec(SPEC)
sys.modules["score"] = score  # dataclasses look their module up while defining
SPEC.loader.exec_module(score)  # type: ignore[union-attr]

# The floor measured on 2026-12-01 with the restored labels (benchmarks/score.py): raise it
# when the detectors improve. The target is issue 12's: recall and precision >= 0.95, no
# warning/error on a healthy run, onsets >= 90% inside their windows.
TARGET = {"recall": 0.95, "precision": 0.95, "healthy_fa": 0, "onset": 0.90}
RATCHET = {
    # set: (recall, precision, healthy false alarms at most, onsets inside their window at least)
    # after the detection core of issue 12 (devset: recall 0.98, precision 1.00, 0/17, 21/21):
    "corpus": (0.85, 1.0, 0, 14),         # 29/34, 29/29, 0/20, 14/15 (overfitting that has begun, P2: +2, at info)
    "generated": (0.98, 0.98, 0, 23),     # 49/50, 49/50, 0/20, 23/24 (train above val by the devset's check is acceptable, P7)
}
SETS = {"corpus": ROOT / "tests" / "data" / "corpus", "generated": ROOT / "benchmarks" / "sets" / "generated"}


@pytest.fixture(scope="module", params=sorted(SETS))
def scored(request: pytest.FixtureRequest):
    return score.score_set(SETS[request.param])


def test_every_run_is_labeled_and_read(scored) -> None:
    folders = {p.name for p in (Path(scored.path) / "runs").iterdir() if p.is_dir()}
    assert {r.name for r in scored.runs} == folders
    assert scored.unread == 0, [p for r in scored.runs for p in r.problems if p.startswith("UNREAD")]


def test_accuracy_does_not_fall_below_the_ratchet(scored) -> None:
    recall, precision, alarms, onsets = RATCHET[scored.name]
    problems = "\n".join(p for r in scored.runs for p in r.problems)
    assert scored.recall >= recall, problems
    assert scored.precision >= precision, problems
    assert scored.healthy_fa <= alarms, problems
    assert sum(o.ok for o in scored.onset_checked) >= onsets, problems


def test_labels_use_the_vocabulary(scored) -> None:
    """Labels outside the vocabulary would be silently ignored by the scorer."""
    vocabulary = set(score.SATISFIES) | {"healthy", "early_stopping_point"}
    labels = score.load_labels(Path(scored.path))
    for name, lab in labels.items():
        assert set(lab.expected) | lab.acceptable <= vocabulary, name
        assert not set(lab.expected) & lab.acceptable, name


def _one_run_set(tmp_path: Path, run: str, entry: str) -> Path:
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "r").symlink_to(ROOT / "tests" / "data" / "corpus" / "runs" / run)
    (tmp_path / "labels.yaml").write_text("runs:\n  r: " + entry + "\n")
    return tmp_path


def test_scorer_counts_a_miss_a_false_alarm_and_an_onset_miss(tmp_path: Path) -> None:
    """A wrong label must show up: the Whisper fine-tune overfits (eval_loss min at step 1,000)."""
    entry = "{expected: [healthy, divergence], key_steps: {divergence_window: [10, 20]}}"
    s = score.score_set(_one_run_set(tmp_path, "hf_trainer-whisper_small_hi_trainer_state", entry))
    run = s.runs[0]
    assert run.fn == ["divergence"] and "overfitting" in run.fp and run.alarms == ["overfitting"]
    assert s.healthy_fa == 1 and s.recall == 0.0 and [o.ok for o in run.onsets] == [False]


def test_scorer_credits_a_hit_an_acceptable_reading_and_an_onset(tmp_path: Path) -> None:
    entry = "{expected: [overfitting, early_stopping_point], key_steps: {early_stopping_window: [800, 1200]}}"
    s = score.score_set(_one_run_set(tmp_path, "hf_trainer-whisper_small_hi_trainer_state", entry))
    assert s.runs[0].tp == ["overfitting"] and s.recall == 1.0 and s.precision == 1.0
    assert [o.ok for o in s.runs[0].onsets] == [True]


def test_scorer_takes_accepted_readings_from_another_labels_file(tmp_path: Path) -> None:
    """--accept-from: a review's reading of a run of the same name is no false alarm, while
    recall still counts the set's own expected labels."""
    (tmp_path / "set").mkdir()
    set_dir = _one_run_set(tmp_path / "set", "hf_trainer-whisper_small_hi_trainer_state", "{expected: [healthy, divergence]}")
    review = tmp_path / "review.yaml"
    review.write_text("runs:\n  r: {expected: [overfitting], acceptable: [early_stopping_point]}\n  other: {expected: [nan_loss]}\n")
    assert score.accepted_readings(review) == {"r": {"overfitting", "early_stopping_point"}, "other": {"nan_loss"}}
    plain, reviewed = score.score_set(set_dir), score.score_set(set_dir, accept=score.accepted_readings(review))
    assert plain.healthy_fa == 1 and "overfitting" in plain.runs[0].fp
    assert reviewed.healthy_fa == 0 and reviewed.runs[0].fp == [] and reviewed.runs[0].fn == ["divergence"]


def test_scorer_summary_line_has_the_devset_form(tmp_path: Path) -> None:
    s = score.score_set(_one_run_set(tmp_path, "hf_trainer-whisper_small_hi_trainer_state", "{expected: [healthy]}"))
    assert s.summary() == f"{tmp_path.name}: recall 0.00 precision 0.00 healthy-false-alarms 1/1 onset 0/0 unread 0"
