"""The rule engine's shape: the predicate registry derived from signatures, the typed
`when:` tree bound at load time, problems collected, and one resolver for rule names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest
from click.testing import CliRunner

from lossdoctor.cli import main
from lossdoctor.engine import PREDICATES, All, Call, Not, RuleIndex, default_rules, load_rule_file, \
    rule_problems, walk
from lossdoctor.engine.params import Count, Fraction, Slot, signature_params
from lossdoctor.engine.predicates.core import registry
from lossdoctor.errors import ConfigError
from lossdoctor.exitcodes import ExitCode

ROOT = Path(__file__).parent.parent
NAN_RUN = str(ROOT / "examples" / "nan")  # nan_loss (per series) and unscaled_loss fire


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


# ---- parameters declared once, in the signature ---------------------------------------

def test_the_registry_reads_kinds_units_and_defaults_from_the_signature() -> None:
    spec = PREDICATES["bounces"].params
    assert list(spec) == ["slot", "min_swing", "relevance"]
    assert spec["slot"].required and not spec["min_swing"].required
    assert (spec["min_swing"].kind.name, spec["min_swing"].default, spec["min_swing"].unit) == (
        "ratio", 1.1, "x from one point to the next")
    assert spec["relevance"].unit == "of the untrained loss"
    assert spec["relevance"].problem(1.5) == "expected a fraction between 0 and 1, got 1.5"
    assert PREDICATES["train_above_val"].params["min_points"].unit == "points"
    assert all(name == p.name for name, p in PREDICATES.items())


def test_a_parameter_without_a_kind_is_refused_when_the_registry_is_built() -> None:
    def good(subj, slot: Slot, share: Annotated[Fraction, "share of steps"] = 0.5, n: Count = 3):
        """A test predicate."""

    def bad(subj, slot: Slot, n: int = 3):
        """A test predicate."""

    params = signature_params(good)
    assert [(p.name, p.kind.name, p.unit) for p in params.values()] == [
        ("slot", "slot", "slot"), ("share", "fraction", "share of steps"), ("n", "count", "points")]
    with pytest.raises(TypeError, match="parameter 'n' needs a kind"):
        registry([bad])
    with pytest.raises(TypeError, match="registered twice"):
        registry([good, good])


def test_a_count_of_infinity_is_a_located_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RULE.format(when="has: {slot: train_loss, min_points: .inf}"))
    with pytest.raises(ConfigError, match=r"when.has.min_points: expected a positive integer, got inf"):
        load_rule_file(path)


# ---- the typed when: tree ---------------------------------------------------------------

RULE = """id: my_rule
title: T
severity: warning
message: "{{metric}}"
remedies: ["do it"]
params: {{ratio: 3.0, points: 8}}
when:
  {when}
"""


def test_when_is_parsed_once_into_bound_nodes_that_overrides_rebind(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RULE.format(when="all: [{train_above_val: {min_ratio: $ratio, min_points: $points}},"
                                     " {not: {has: {slot: val_loss}}}]"))
    rule, = load_rule_file(path)
    assert isinstance(rule.when, All) and isinstance(rule.when.children[1], Not)
    call = rule.when.children[0]
    assert isinstance(call, Call) and call.args == {"min_ratio": 3.0, "min_points": 8}
    assert call.refs == {"min_ratio": "ratio", "min_points": "points"}
    assert call.kwargs["alpha"] == 0.05 and call.fn is PREDICATES["train_above_val"].fn
    assert [c.name for c in walk(rule.when)] == ["train_above_val", "has"]
    changed = rule.with_overrides(None, {"ratio": 5.0})
    new_call = next(walk(changed.when))
    assert new_call.args["min_ratio"] == 5.0 and new_call.args["min_points"] == 8
    assert new_call.key != call.key and next(walk(rule.when)) is call  # the original is untouched


def test_every_problem_of_a_file_is_collected_and_the_loader_raises_the_first(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RULE.format(when="all: [{settled: {slot: wat, slop: 1}}, {val_rise: {}}, {has: {min_points: 0}}]")
                    .replace("severity: warning", "severity: fatal"))
    problems = rule_problems([path])
    where = f"{path}: rule my_rule: "
    assert problems == [where + "when.all[0].settled.slot: expected one of train_loss, val_loss, train_acc, "
                                "val_acc, lr, grad_norm, loss_scale, skipped_steps, series, got 'wat'",
                        where + "when.all[0].settled: unknown parameter 'slop' (allowed: slot, max_change, sigmas, no_trend)",
                        where + "when.all[1]: unknown predicate 'val_rise'",
                        where + "when.all[2].has.min_points: expected a positive integer, got 0",
                        where + "when.all[2].has: missing parameter 'slot'",
                        where + "severity: unknown severity 'fatal' (expected info, warning or error)"]
    with pytest.raises(ConfigError) as err:
        load_rule_file(path)
    assert str(err.value) == problems[0]
    assert rule_problems([ROOT / "rules" / "overfitting.yaml"]) == []


def test_an_alias_may_not_name_another_rule(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RULE.format(when="has: {slot: train_loss}") + "aliases: [divergence]\n")
    assert rule_problems([ROOT / "rules" / "divergence.yaml", path]) == [
        f"{path}: rule my_rule: alias 'divergence' already names rule divergence in "
        f"{ROOT / 'rules' / 'divergence.yaml'}"]


# ---- one resolver for ids, aliases and tags ---------------------------------------------

def test_the_index_turns_ids_aliases_and_tags_into_rule_ids(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RULE.format(when="has: {slot: train_loss}") + "aliases: [old_name]\n"
                    "metadata: {tags: [nan, overfitting]}\n")
    index = RuleIndex([*default_rules(), *load_rule_file(path)])
    assert index.ids("nan", "x") == ("nan_loss", "my_rule")
    assert index.ids("hidden_nan", "x") == ("nan_loss",)  # the old id is an alias now
    assert index.ids("old_name", "x") == ("my_rule",)
    assert index.ids("overfitting", "x") == ("overfitting",)  # an id wins over a tag
    with pytest.raises(ConfigError, match=r"^--only overfit: unknown rule 'overfit' \(did you mean 'overfitting'\?\)$"):
        index.ids("overfit", "--only overfit")


def test_flags_take_tags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke("diagnose", NAN_RUN, "--ignore", "nan", "--format", "json")
    assert code == ExitCode.OK and {f["rule"] for f in json.loads(out)["runs"][0]["findings"]} == {"unscaled_loss"}
    assert invoke("diagnose", NAN_RUN, "--fail-on", "data", "--ignore", "nan_loss")[0] == ExitCode.FINDINGS
    assert invoke("diagnose", NAN_RUN, "--fail-on", "trend,generalisation")[0] == ExitCode.OK
    code, out, _ = invoke("audit", str(ROOT / "examples"), "--only", "nan", "--format", "json", "-j", "1")
    assert [Path(r["path"]).parent.name for r in json.loads(out)["runs"]] == ["nan"]
    code, out, err = invoke("rules", "show", "nan")
    assert code == ExitCode.OK and out.startswith("nan_loss — ")


@pytest.mark.parametrize("args,message", [
    (("--ignore", "overfit"), "--ignore overfit: unknown rule 'overfit' (did you mean 'overfitting'?)"),
    (("--fail-on", "warn"), "--fail-on: 'warn' is neither a severity (info, warning, error, never) "
                            "nor a rule id (did you mean 'warning'?)"),
])
def test_unknown_names_suggest_the_closest(args: tuple[str, ...], message: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("diagnose", NAN_RUN, *args) == (ExitCode.USAGE, "", f"lossdoctor: error: {message}\n")


def test_config_keys_take_aliases_and_tags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "r.yaml").write_text(RULE.format(when="has: {slot: train_loss, min_points: $points}")
                                              + "aliases: [old_name]\n")
    (tmp_path / "lossdoctor.yaml").write_text("rule-paths: [team]\nignore: [nan]\n"
                                              "rules: {old_name: {points: 2}, data: {severity: error}}\n")
    code, out, _ = invoke("rules")
    assert code == ExitCode.OK and "(ignored)" in next(line for line in out.splitlines() if line.startswith("nan_loss"))
    assert next(line for line in out.splitlines() if line.startswith("unscaled_loss")).split()[1] == "error*"
    _, out, _ = invoke("rules", "show", "old_name")
    assert "has(slot=train_loss, min_points=2 ($points))" in out and "points = 2  (set by lossdoctor.yaml)" in out
    (tmp_path / "lossdoctor.yaml").write_text("rule-paths: [team]\nrules: {old_nam: {points: 2}}\n")
    assert invoke("rules")[2] == ("lossdoctor: error: lossdoctor.yaml: rules.old_nam: unknown rule 'old_nam' "
                                  "(did you mean 'old_name'?)\n")


def test_a_gap_measured_at_evaluation_steps_points_at_a_logged_training_step() -> None:
    """Validation every 10 steps at 5, 15, ...; training logged at 0, 10, ...: inverted_gap names
    the training curve, so its step is one the training log has (found by the property test)."""
    import numpy as np

    from lossdoctor.diagnose import Settings, diagnose_run
    from lossdoctor.frame import Run, Series

    steps = np.arange(0, 400, 10, dtype=float)
    train = 2.0 * np.exp(-steps / 150) + 0.6
    run = Run("gap", "csv")
    run.add(Series("loss", steps, train * 1.5))
    run.add(Series("val_loss", steps + 5, np.interp(steps + 5, steps, train)))
    found = [f for f in diagnose_run(run, Settings(rules=tuple(default_rules()))).findings if f.rule == "inverted_gap"]
    assert found and found[0].metric == "loss" and found[0].step in set(steps.tolist())
    assert found[0].end_step in set(steps.tolist())


def test_a_sustained_jump_starts_where_the_logged_loss_jumped() -> None:
    """A level excursion is found on a centred median, which rises up to half a window before
    the jump; the excursion (and the spike's onset) is the first logged point that left."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of
    from lossdoctor.engine.curves.excursions import level_excursions

    rng = np.random.default_rng(5)
    steps = np.arange(1000, dtype=float)
    loss = 0.15 * np.exp(rng.normal(0.0, 0.3, steps.size))  # heavy per-step batch noise
    loss[700:740] *= 50.0  # a bad shard: 40 steps far up, then back
    level = [e for e in level_excursions(steps, np.log(loss)) if e.kind == "level"]
    assert level and all(e.start >= 700 for e in level)
    spikes = [e for e in events_of(steps, loss) if e.kind == "spike"]
    assert [e.step for e in spikes] and all(695 <= e.step <= 700 for e in spikes)


def test_noise_that_wanders_has_no_period_and_a_saw_tooth_in_it_does() -> None:
    """A logged running mean wanders: AR(1) noise at 0.9 is correlated 0.81 two steps on, yet
    its autocorrelation only decays, and it has no period. The same noise with batches that
    repeat every 40 steps (a class-sorted, unshuffled loader) peaks again at lag 40."""
    import numpy as np

    from lossdoctor.engine.curves.periodic import periodic_swing

    rng = np.random.default_rng(2)
    wander = np.zeros(3000)
    for i in range(1, wander.size):
        wander[i] = 0.9 * wander[i - 1] + rng.normal(0.0, 0.1)
    steps = np.arange(wander.size, dtype=float)
    assert periodic_swing(steps, np.log(0.5) + wander) is None
    sorted_batches = 0.6 * np.sin(2 * np.pi * steps / 40)
    found = periodic_swing(steps, np.log(0.5) + wander + sorted_batches)
    assert found is not None and found.period == 40


def test_pure_batch_noise_has_no_transients() -> None:
    """Heavy per-step noise (0.8 in log units, a converged classifier's batches) and nothing
    else, 200 points: a 6-sigma band should pass nearly everything. Judged against the MAD of
    the 5 second differences its 2% baseline window holds alone, about one point a curve
    stood out (218 in 200 curves, 55 in these 50, measured); judged also against the noise
    of the 20 points before, 26 in 200 (5 in these 50). The bound leaves room for the draw."""
    import numpy as np

    from lossdoctor.engine.curves.excursions import point_excursions

    steps = np.arange(0, 1000, 5, dtype=float)
    found = 0
    for seed in range(50):
        y = np.log(0.01) + np.random.default_rng(seed).normal(0.0, 0.8, steps.size)
        found += sum(e.recovered for e in point_excursions(steps, y))
    assert found <= 15


def test_pure_batch_noise_has_no_events() -> None:
    """The same heavy per-step noise, 200 or 2,000 points, 30 curves: no spike, no blow-up.
    Before, 9 events came of it (measured): a first batch drawn low anchored a floor that a
    median's 2x band put the whole run above, and the medians of the window cut short by the
    log's start, noisier than that band allows, set the floor too."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    found = []
    for seed in range(30):
        steps = np.arange(0, 5 * (200, 2000)[seed % 2], 5, dtype=float)
        loss = 0.01 * np.exp(np.random.default_rng(seed).normal(0.0, 0.8, steps.size))
        found += [(seed, e.kind, e.step) for e in events_of(steps, loss)]
    assert len(found) <= 2, found


def test_a_climb_from_the_first_points_keeps_its_anchor() -> None:
    """A validation loss (12 evaluations, a warm-up past stability; development set, reseeded)
    at 0.342 and 0.461, then thrashing at 0.9-3.4 for the rest of the run: its first point
    anchors the floor (the level above it stands 3.5 sigma of a point-minus-median beyond it),
    and the climb is an event that never came back."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    val = np.array([0.342, 0.461, 1.94, 1.74, 0.909, 1.02, 1.68, 3.38, 0.935, 1.09, 1.05, 2.1])
    steps = 28.0 + 29.0 * np.arange(val.size)
    events = events_of(steps, val)
    assert [e.kind for e in events] == ["blow-up"] and events[0].back_step is None


def test_one_noisy_batch_before_a_jump_is_not_its_start() -> None:
    """The batch just before the jump sits 2.1x above the floor the excursion rose from
    (0.118, the running minimum of the median): past the band of a median level (2x), but
    inside the point noise (drawn at 0.3 in log units, measured 0.275 before the jump: 3
    sigma is 2.28x). The climb starts at the jump, not one batch early (the reseeded
    development set's bad shard)."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of
    from lossdoctor.engine.curves.excursions import level_excursions

    rng = np.random.default_rng(5)
    steps = np.arange(1000, dtype=float)
    loss = 0.15 * np.exp(rng.normal(0.0, 0.3, steps.size))
    loss[699] = 0.25
    loss[700:740] = 0.15 * 50.0 * np.exp(rng.normal(0.0, 0.3, 40))
    level = [e for e in level_excursions(steps, np.log(loss)) if e.kind == "level"]
    assert level and all(e.start == 700 for e in level)
    spikes = [e for e in events_of(steps, loss) if e.kind == "spike"]
    assert spikes and all(e.step == 700 for e in spikes)


def test_a_fall_within_the_first_points_counts_as_progress() -> None:
    """An epoch-level loss that drops 13% from its first to its second point and then creeps
    to a floor: the start is the first point (it stands far above the median of the first
    three, beyond the curve's noise), so the run's gain includes that drop. A noisy per-step
    log whose first batch happens to sit high keeps the median of its first three points."""
    import numpy as np

    from lossdoctor.engine.curves.shape import shape_of

    epochs = np.arange(25, dtype=float)
    smooth = 0.645 + 0.025 * np.exp(-epochs / 5)
    smooth[0] = 0.769
    sh = shape_of(epochs, smooth)
    assert sh is not None and sh.start == smooth[0] and sh.gain > 0.15

    rng = np.random.default_rng(3)
    steps = np.arange(500, dtype=float)
    noisy = 1.0 * np.exp(rng.normal(0.0, 0.3, steps.size))
    noisy[0] = 1.6  # 1.6x: inside 3 sigma of 0.3-log noise
    sh = shape_of(steps, noisy)
    assert sh is not None and sh.start == float(np.median(noisy[:3]))


def _ramped_past_stability(seed: int, after: float) -> tuple:
    """A loss that falls from 1.0 towards 0.45, then from epoch 20 sits at `after`, in heavy
    noise (a factor of up to 1.8 either way from epoch to epoch), no NaN."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(80, dtype=float)
    level = np.where(t < 20, 0.45 + 0.55 * np.exp(-t / 3), after)
    loss = level * np.exp(rng.uniform(-0.6, 0.6, t.size))
    loss[:3] = [1.0, 0.8, 0.62]
    return t, loss


def test_a_level_that_shifts_up_for_good_is_a_blow_up_without_any_excursion() -> None:
    """From epoch 20 the loss sits at 1.15, above the untrained 1.0 and 2.5x its best level,
    but the noise hides every single climb from the excursion detector: the change point on
    the grid finds the shift, at the epoch it happened. Kept at its level (0.45), or never
    learning (flat at 1.0 in the same noise), no shift is found."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of
    from lossdoctor.engine.curves.shape import shape_of
    from lossdoctor.engine.curves.undoing import undoing

    t, loss = _ramped_past_stability(3, 1.15)
    assert events_of(t, loss) == []
    u = undoing(t, loss, shape_of(t, loss).scale)
    assert u is not None and 20 <= u.step <= 23 and u.end >= 1.0 and u.end / u.low >= 2
    for seed in range(5):
        t, healthy = _ramped_past_stability(seed, 0.45)
        assert undoing(t, healthy, shape_of(t, healthy).scale) is None
        flat = np.full(t.size, 1.0) * np.exp(np.random.default_rng(seed).uniform(-0.6, 0.6, t.size))
        assert undoing(t, flat, shape_of(t, flat).scale) is None


def test_a_heavy_tailed_memorised_loss_has_no_spike_at_its_usual_height() -> None:
    """A memorised loss: a level of ~0.005 whose batches jump 10x about one time in twelve.
    One more batch at 0.045 is the noise's own tail, not a spike; one at 0.6, far above any
    of the batches before it, is."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    rng = np.random.default_rng(11)
    steps = np.arange(0, 1500, 10, dtype=float)
    loss = 0.7 * np.exp(-steps / 60) + 0.005 * np.exp(rng.normal(0.0, 0.5, steps.size))
    loss[100:150:12] = 0.05  # the heavy tail: routine 10x batches
    tail = loss.copy()
    tail[130] = 0.045
    assert [e for e in events_of(steps, tail) if e.kind == "spike"] == []
    real = loss.copy()
    real[130] = 0.6
    assert [e.step for e in events_of(steps, real) if e.kind == "spike"] == [1300.0]


def test_the_checkpoint_to_keep_is_not_a_lone_low_draw() -> None:
    """A noisy validation curve (8% noise) dips once to 1.006 at evaluation 16 between 1.195 and
    1.237, and sits at 0.97-1.04 for evaluations 22-26: the checkpoint to keep is in that run
    of good evaluations, at 23 (0.974): 1.04 at 22 is 7% above the lowest (0.969), beyond the
    5.6% standard error of a 3-point level; the rise is still judged after the earliest raw
    point within one noise sigma of the lowest (16)."""
    import numpy as np

    from lossdoctor.engine.curves.best import best_and_after

    val = np.array([1.41, 1.35, 1.42, 1.32, 1.25, 1.18, 1.24, 1.13, 1.11, 1.15, 1.25, 1.07, 1.06,
                    1.19, 1.195, 1.006, 1.237, 1.11, 1.17, 1.24, 1.32, 1.04, 0.974, 0.984, 0.969,
                    0.987, 1.17, 1.00, 1.10, 1.08, 1.71, 1.41, 1.02, 1.08, 1.19, 1.07, 1.15, 1.27,
                    1.16, 1.26, 1.29, 1.39, 1.28, 1.38, 1.44, 1.36, 1.35, 1.40, 1.30, 1.34])
    b = best_and_after(np.arange(1, val.size + 1, dtype=float), np.log(val))
    assert b is not None and b.index == 15 and b.keep == 22


def test_an_accuracy_shows_how_many_samples_it_was_measured_on() -> None:
    """Accuracies of k/300 written as float32 give n = 300; accuracies averaged over batches
    (not fractions of one n) give none. 34% of 300 on 4 classes is beyond chance (25% plus
    three binomial standard errors, 7.5 points); 27% is not."""
    import numpy as np

    from lossdoctor.engine.curves.counts import above_chance, evaluated_on

    k = np.array([89, 97, 101, 104, 99, 103, 106, 100])
    assert evaluated_on((k / 300).astype(np.float32).astype(float)) == 300
    assert evaluated_on(100 * k / 300) == 300  # a percentage
    assert evaluated_on(np.random.default_rng(1).uniform(0.3, 0.4, 20)) is None
    assert evaluated_on(np.array([0.25, 0.5, 0.25])) is None  # too few distinct values to tell
    assert above_chance(0.34, 4, 300) and not above_chance(0.27, 4, 300)


def test_the_class_count_is_the_one_whose_ln_c_is_nearest_the_loss() -> None:
    """A loss between ln C and ln (C+1) reads as the nearer of the two in nats: the first
    epoch's mean of a 4-class run (1.251, 9.7% under ln 4) is 4 classes, not 3 (rounding
    e^1.251 = 3.49 gave 3, 13.9% away); the boundary is the mean of the two logs, for any C."""
    import math

    from lossdoctor.engine.curves.levels import classes_from_loss

    assert classes_from_loss(1.251, tolerance=0.1) == 4
    for c in range(2, 60):
        middle = (math.log(c) + math.log(c + 1)) / 2
        assert classes_from_loss(middle - 1e-9, tolerance=0.3) == c
        assert classes_from_loss(middle + 1e-9, tolerance=0.3) == c + 1
    assert classes_from_loss(0.5, tolerance=0.1) is None  # far under ln 2: no classifier start


def test_an_accuracys_lowest_likely_value_has_width_at_a_set_all_right() -> None:
    """Wilson's low end: 1 - 3.8/n for a set all right (where Wald's would be 1 itself), the
    Wald value away from the edges, and beyond the true accuracy in about 2.5% of draws."""
    import math

    import numpy as np

    from lossdoctor.engine.curves.counts import lowest_likely

    assert lowest_likely(1.0, 300) == pytest.approx(0.98736, abs=1e-4)
    assert lowest_likely(0.52, 400) == pytest.approx(0.52 - 1.96 * math.sqrt(0.52 * 0.48 / 400), abs=1e-3)
    assert lowest_likely(0.0, 100) == 0.0
    draws = np.random.default_rng(3).binomial(400, 0.3, size=20_000) / 400
    above = np.mean([lowest_likely(float(a), 400) > 0.3 for a in draws])
    assert 0.015 < above < 0.035, above


def test_a_calibrated_classifier_loses_no_more_than_fanos_ceiling_at_its_accuracy() -> None:
    """Calibrated predictions (labels drawn from the predicted probabilities) have a mean
    cross-entropy at most the ceiling at their accuracy: ln C at chance, 0 when always right,
    and under it for sharp and for flat predictions alike; predictions less sure than right
    (the same argmax, softened) lose more than it."""
    import math

    import numpy as np

    from lossdoctor.engine.curves.levels import calibrated_ceiling

    assert calibrated_ceiling(1 / 8, 8) == pytest.approx(math.log(8))
    assert calibrated_ceiling(0.0, 8) == pytest.approx(math.log(8))  # below chance reads as chance
    assert calibrated_ceiling(1.0, 8) == 0.0
    rng = np.random.default_rng(5)
    for c, concentration in ((8, 0.3), (8, 3.0), (3, 1.0)):
        q = rng.dirichlet(np.full(c, concentration), size=200_000)
        y = (q.cumsum(axis=1) > rng.random((q.shape[0], 1))).argmax(axis=1)
        right = q.argmax(axis=1) == y
        loss = -np.log(q[np.arange(q.shape[0]), y])
        assert loss.mean() <= calibrated_ceiling(float(right.mean()), c)
        soft = q ** 0.1 / (q ** 0.1).sum(axis=1, keepdims=True)  # the same argmax, far less sure
        assert -np.log(soft[np.arange(q.shape[0]), y]).mean() > calibrated_ceiling(float(right.mean()), c)


def test_losses_bounded_by_the_untrained_loss_spread_at_most_as_bhatia_davis_says() -> None:
    """Values in [0, top] with mean m spread at most sqrt(m (top - m)): a CV of 4.5 at 0.05
    nats under ln 3, 1.3 at 0.4, none at the top itself; the same in any units."""
    import math

    from lossdoctor.engine.curves.levels import bounded_spread

    assert bounded_spread(0.05, math.log(3)) == pytest.approx(math.sqrt((math.log(3) - 0.05) / 0.05))
    assert bounded_spread(0.4, math.log(3)) == pytest.approx(1.32, abs=0.01)
    assert bounded_spread(1000 * 0.05, 1000 * math.log(3)) == pytest.approx(bounded_spread(0.05, math.log(3)))
    assert bounded_spread(math.log(3), math.log(3)) == 0.0
    assert math.isnan(bounded_spread(0.0, 1.0))


def test_a_short_log_that_jumps_into_nan_is_a_blow_up() -> None:
    """Logged every 5th step, a blow-up leaves 6 falling points, one 10^7-fold jump and then
    NaN: 7 finite points, fewer than the excursion detector's baseline window plus two, but
    the jump has its baseline and the NaN after it is the climb's high tail. The same
    training logged every step is a blow-up too (generated divergence_lr_jump_*, thinned)."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    steps = np.arange(17, dtype=float) * 25
    loss = np.array([1.19, 0.58, 0.46, 0.26, 0.20, 0.19, 2.5e7] + [np.nan] * 10)
    blow = [e for e in events_of(steps, loss) if e.kind == "blow-up"]
    assert [e.step for e in blow] == [150.0] and blow[0].into_nonfinite
    finite_only = loss[:6]  # the same points without the jump: nothing to find
    assert events_of(steps[:6], finite_only) == []


def test_a_climb_over_the_last_points_counts_from_where_it_left_the_noise() -> None:
    """An epoch log of 12 points whose loss climbs 0.46 -> 0.78 -> 1.41 -> 1.61 -> 7.64 at the
    end (an LR range test, per-epoch means): the smoothed level leaves its floor only at the
    second-last point, but the climb left the noise of its base a point earlier, so three
    logged points stand above it: a blow-up from there. Two high points at the end of a log
    may be a spike on its way down: not a blow-up."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    steps = np.arange(1, 13, dtype=float) * 50
    loss = np.array([1.107, 1.101, 1.095, 1.070, 0.967, 0.742, 0.492, 0.462, 0.777, 1.408, 1.611, 7.637])
    blow = [e for e in events_of(steps, loss) if e.kind == "blow-up"]
    assert [e.step for e in blow] == [500.0]
    short = np.concatenate((loss[:8], [0.45, 0.47, 1.61, 7.64]))  # up for the last two points only
    assert [e for e in events_of(steps, short) if e.kind == "blow-up"] == []


def test_a_fall_over_too_few_points_for_mann_kendall_is_judged_by_the_noise() -> None:
    """Mann-Kendall over 3 or 4 points cannot reach p < 0.05 (a perfectly monotone 4 has
    p = 0.09): an epoch log's second half of 3 points is then judged against the curve's own
    point noise. A 30% fall over 3 points with 1% noise is a fall; the same fall in 40% noise
    is not; from 5 points on Mann-Kendall decides."""
    import numpy as np

    from lossdoctor.engine.curves.trend import change_se, reachable, trend

    assert [n for n in range(2, 8) if reachable(n, 0.05)] == [5, 6, 7]
    assert change_se(2) == pytest.approx(np.sqrt(2))
    t = np.array([0.0, 1.0, 2.0])
    tail = trend(t, np.log([0.332, 0.271, 0.2465]))
    assert tail.p > 0.05  # Mann-Kendall alone would never call it
    assert tail.falling(0.05, noise=0.01)
    assert not tail.falling(0.05, noise=0.4)
    assert not tail.falling(0.05)  # no noise known: cannot judge
    five = trend(np.arange(5.0), np.log([0.5, 0.45, 0.46, 0.40, 0.38]))
    assert five.falling(0.05, noise=1e-6) == (five.p < 0.05)


def test_a_late_first_step_is_a_resumed_run_only_without_an_untrained_models_first_drop() -> None:
    """A log that begins after more steps than it covers may be a run resumed from a
    checkpoint (Lightning writes it to a new version folder): a flat loss there is no
    "not learning". But a log whose loss falls within its first points beyond its noise, as
    an untrained model's does, started fresh whatever its step counter says: a settled
    reconstruction error reads the same at step 0 and at step 1e6."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.frame import Run, Series

    settings = resolve_config(None, None).settings
    t = np.arange(60, dtype=float)
    rng = np.random.default_rng(36)
    loss = (0.63 + 0.70 * np.exp(-t / 2)) * np.exp(rng.normal(0, 0.002, t.size))
    val = (0.58 + 0.27 * np.exp(-t / 2)) * np.exp(rng.normal(0, 0.002, t.size))

    def rules(offset: float, train: np.ndarray, valid: np.ndarray) -> set[str]:
        run = Run("mem", "keras_csv", {"recon_loss": Series("recon_loss", t + offset, train, "epoch"),
                                       "val_recon_loss": Series("val_recon_loss", t + offset, valid, "epoch")})
        return {f.rule for f in diagnose_run(run, settings).findings}

    fresh = rules(0.0, loss, val)
    assert "underfitting" in fresh and rules(1e6, loss, val) == fresh
    # The same training picked up from a checkpoint once settled: no first drop, a late counter.
    settled_train = 0.63 * np.exp(rng.normal(0, 0.002, t.size))
    settled_val = 0.58 * np.exp(rng.normal(0, 0.002, t.size))
    resumed = rules(1e6, settled_train, settled_val)
    assert "underfitting" not in resumed and "not_learning" not in resumed
    assert "not_learning" in rules(0.0, settled_train, settled_val)  # from step 0 it never learnt
    # Frozen weights (an LSTM whose loss repeats to 7 digits, float32 rounding aside) trained
    # nothing to resume: not learning whatever step the log starts at.
    frozen = (0.4874341 * (1 + rng.normal(0, 1e-7, t.size))).astype(np.float32).astype(float)
    frozen_val = np.full(t.size, 0.1613598)
    assert "not_learning" in rules(0.0, frozen, frozen_val)
    assert "not_learning" in rules(1e6, frozen, frozen_val)


def test_the_pace_of_a_curve_does_not_hang_on_its_first_logged_point() -> None:
    """The pace (what the second half brought against the first) compares the levels of the
    first tenth, the tenth around the middle and the last tenth of the progress grid, as the
    end level is read: an epoch log whose first point is the untrained loss (2.0, then 1.0 after
    the first epoch) reads about the same whether that point was logged or not (every 2nd
    epoch). From single bins it read 0.03 with it and 0.08 without."""
    import numpy as np

    from lossdoctor.engine.curves.shape import shape_of

    t = np.arange(40.0)
    loss = (0.3 + 0.7 * np.exp(-t / 8)) * np.exp(np.random.default_rng(1).normal(0, 0.01, t.size))
    loss[0] = 2.0
    every_epoch, every_2nd = shape_of(t, loss), shape_of(t[1::2], loss[1::2])
    assert every_epoch is not None and every_2nd is not None
    assert abs(every_epoch.pace - every_2nd.pace) < 0.1 * every_2nd.pace


def test_a_period_longer_than_the_detrending_window_is_found() -> None:
    """Data sorted by class and never shuffled: through each 60-step epoch the loss climbs
    (x1 to x2) as the classes go by and drops when the first class comes back, on a falling
    trend, in 600 steps. The period (60 steps, 10% of the run) is longer than the 5% median
    that removes the trend: the saw-tooth survives the median and is found at 60 (the
    reseeded development set's class-sorted runs: autocorrelation 0.87 at the 60-step epoch,
    under 0.5 at every lag up to the window)."""
    import numpy as np

    from lossdoctor.engine.curves.periodic import periodic_swing

    t = np.arange(600.0)
    level = np.linspace(1.0, 2.0, 60)
    loss = (0.2 + np.exp(-t / 150)) * np.tile(level, 10) * np.exp(np.random.default_rng(4).normal(0, 0.05, t.size))
    p = periodic_swing(t, np.log(loss))
    assert p is not None and p.period == 60 and p.r >= 0.5
    flat = (0.2 + np.exp(-t / 150)) * np.exp(np.random.default_rng(4).normal(0, 0.05, t.size))
    assert periodic_swing(t, np.log(flat)) is None


def test_a_saw_tooth_is_judged_by_how_far_it_moves_the_loss_over_the_run() -> None:
    """Two class-sorted loaders (x1 to x3 through each 60-step epoch). One trains from 2.3
    to a memorised 0.005: its saw-tooth moves the loss by ~0.4 while the loss is high, and is
    reported, though at the end it moves it by 0.01 (judged at the end level, it was not: the
    reseeded development set's class-sorted run at +39). The other memorised its task by
    step 200 and only then saw-tooths, at 0.01: large in log terms, invisible on the run."""
    import numpy as np
    import pandas as pd

    import lossdoctor

    t = np.arange(1200.0)
    noise = np.exp(np.random.default_rng(5).normal(0, 0.05, t.size))
    saw = np.tile(np.linspace(1.0, 3.0, 60), 20)
    decays = (0.005 + 2.3 * np.exp(-t / 300)) * saw * noise
    memorised = (0.01 + 2.3 * np.exp(-t / 30)) * np.where(t > 200, saw, 1.0) * noise

    def found(loss: np.ndarray) -> dict[str, str]:
        d = lossdoctor.diagnose(pd.DataFrame({"step": t, "train_loss": loss}))
        return {f.rule: f.message for f in d.findings}

    assert "period of about 60 steps" in found(decays).get("oscillation", "")
    assert "oscillation" not in found(memorised)


def test_a_loss_frozen_by_a_collapsed_rate_is_a_plateau_whatever_its_noise_estimates() -> None:
    """An exponential decay stepped per batch (0.97 a step): the rate is below 1% of its peak
    by step 155 and the loss freezes at 0.95 under 10% batch noise. On 12 seeds the Theil-Sen
    change over the second half reads -4.4% to +5.1%, past the 2% of `settled` on half of
    them (the reseeded development set missed this recipe at +55 and +57 that way), yet no
    seed shows a trend: every one is the schedule's plateau. The same rate under a loss that
    still falls 10% over the run is not called flat."""
    import numpy as np
    import pandas as pd

    import lossdoctor

    t = np.arange(0, 1500, 5.0)
    lr = 0.003 * 0.97 ** t
    level = 0.95 + 0.15 * np.exp(-t / 60)

    def rules(loss: np.ndarray) -> set[str]:
        frame = pd.DataFrame({"step": t, "train_loss": loss, "lr": lr})
        return {f.rule for f in lossdoctor.diagnose(frame).findings}

    draws = [np.exp(np.random.default_rng(seed).normal(0, 0.1, t.size)) for seed in range(12)]
    assert all("plateau" in rules(level * d) for d in draws)
    falling = level * (1 - 0.1 * t / t[-1])
    assert not any("plateau" in rules(falling * d) for d in draws[:4])


def test_an_untrained_accuracy_says_the_class_count_when_the_loss_cannot() -> None:
    """An untrained classifier is right once in C. Three first evaluations each within 10% of
    one 1/C give C (0.0911 is near both 1/10 and 1/11, 0.0978 only 1/10); a start that climbs
    (0.30, 0.34, 0.38: learning, and near 1/3 only by accident) gives none, nor does a first
    accuracy past any 1/C."""
    import numpy as np

    from lossdoctor.engine.curves.levels import classes_from_accuracy

    assert classes_from_accuracy(np.array([0.0911, 0.0978, 0.0956])) == 10
    assert classes_from_accuracy(np.array([0.49, 0.52, 0.50])) == 2
    assert classes_from_accuracy(np.array([0.2967, 0.3433, 0.38])) is None
    assert classes_from_accuracy(np.array([0.85, 0.90, 0.92])) is None
    # The band's edges are in it, as logged: 11/40 = 0.275 is 10% above 1/4 (in floats,
    # 0.275 * 4 - 1 > 0.1), 72/320 = 0.225 stored as float32 is 10% below it.
    assert classes_from_accuracy(np.array([0.275, 0.23, 0.2675])) == 4
    assert classes_from_accuracy(np.array([0.259375, 0.24375, 0.225], dtype=np.float32).astype(float)) == 4
    assert classes_from_accuracy(np.array([0.276, 0.23, 0.2675])) is None


def test_a_classifier_at_chance_reads_the_same_whatever_the_units_of_its_loss() -> None:
    """A 3-class model that learns nothing: its loss drifts 8% down from ln 3 with its
    validation accuracy at 1/3 on 600 samples. Summed over batches of 32 (a loss in other units, which
    shows no ln C) it is the same run: the accuracy alone says chance. The same summed loss
    beside an accuracy that climbs from 1/3 to 80% learnt: not "not learning"."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.frame import Run, Series

    settings = resolve_config(None, None).settings
    rng = np.random.default_rng(7)
    t = np.arange(1, 31, dtype=float)
    drift = 1 - 0.08 * t / t[-1]  # 8% over the run: more than "hardly moved", far from learnt
    loss = np.log(3) * drift * np.exp(rng.normal(0, 0.004, t.size))
    val = np.log(3) * drift * np.exp(rng.normal(0, 0.004, t.size))
    stuck = rng.binomial(600, 1 / 3, t.size) / 600
    stuck[:3] = [200 / 600, 203 / 600, 198 / 600]  # the untrained start, within 10% of 1/3
    learnt = np.concatenate((stuck[:3], np.linspace(0.4, 0.8, t.size - 3)))

    def rules(scale: float, acc: np.ndarray) -> set[str]:
        run = Run("chance", "keras_csv", {"loss": Series("loss", t, scale * loss, "epoch"),
                                          "val_loss": Series("val_loss", t, scale * val, "epoch"),
                                          "val_accuracy": Series("val_accuracy", t, acc, "epoch")})
        return {f.rule for f in diagnose_run(run, settings).findings}

    assert "not_learning" in rules(1.0, stuck)
    assert "not_learning" in rules(32.0, stuck) and "not_learning" in rules(1 / 32, stuck)
    assert "not_learning" not in rules(32.0, learnt)
    # A loss that large beside an accuracy is a classifier's summed loss, not a regression's.
    summed = Run("chance", "keras_csv", {"loss": Series("loss", t, 32 * loss, "epoch"),
                                         "val_loss": Series("val_loss", t, 32 * val, "epoch"),
                                         "val_accuracy": Series("val_accuracy", t, stuck, "epoch")})
    found = {f.rule: f.message for f in diagnose_run(summed, settings).findings}
    assert "summed over the batch" in found["unscaled_loss"] and "val_accuracy ends at" in found["not_learning"]


def test_a_chance_level_message_sets_the_accuracy_beside_a_uniform_guess() -> None:
    """A loss near ln 3 beside an accuracy of 45% reads as not learning (half of 1/C from a
    third), but the message does not claim "no better than chance" of a 45% it prints: it
    sets it beside a uniform guess's 33.3% and says "little better" (width-3 spiral runs of
    the development set's recipe end at 38-47% that way)."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.frame import Run, Series

    settings = resolve_config(None, None).settings
    rng = np.random.default_rng(11)
    t = np.arange(1, 31, dtype=float)
    # An untrained 1.18 (ln 3 within 10%) down to 1.03 in two epochs, flat from there.
    flat = (1.03 + 0.15 * np.exp(-(t - 1) / 0.7)) * np.exp(rng.normal(0, 0.003, t.size))
    acc = np.concatenate(([0.33, 0.34, 0.33], np.full(t.size - 3, 0.45)))
    run = Run("spiral", "keras_csv", {"loss": Series("loss", t, flat, "epoch"),
                                      "val_loss": Series("val_loss", t, flat * 1.01, "epoch"),
                                      "val_accuracy": Series("val_accuracy", t, acc, "epoch")})
    found = {f.rule: f.message for f in diagnose_run(run, settings).findings}
    assert "45.0% (a uniform guess's 33.3%)" in found["not_learning"]
    assert "no better than chance" not in found["not_learning"]


def test_a_rate_is_too_low_only_when_the_accuracy_surely_fell_short_of_halving_the_error() -> None:
    """A short run (5 evaluations over 300 samples, 4 classes) whose loss falls straight
    while its validation accuracy climbs to 62.3%: the error rate went 75% -> 37.7%, 0.2%
    short of halving it, with a binomial standard error of 2.8%. That is no evidence of a
    rate too low (the development set's healthy 1-D CNN at batch 8). An accuracy that ends
    at 45% (6.4 standard errors short) is, on the same losses."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.frame import Run, Series

    settings = resolve_config(None, None).settings
    rng = np.random.default_rng(5)
    steps = np.arange(0, 750, dtype=float)
    train = np.log(4) * (1 - 0.4 * steps / 750) * np.exp(rng.normal(0, 0.15, steps.size))
    ev = np.array([149, 299, 449, 599, 749], dtype=float)
    val = np.log(4) * (1 - 0.4 * (ev + 1) / 750)

    def rules(final: int) -> set[str]:
        acc = np.array([124, 146, 159, 176, final]) / 300
        run = Run("short", "mlflow", {"train_loss": Series("train_loss", steps, train),
                                      "val_loss": Series("val_loss", ev, val),
                                      "val_accuracy": Series("val_accuracy", ev, acc)})
        return {f.rule for f in diagnose_run(run, settings).findings}

    assert "lr_too_low" not in rules(187)  # 62.3%
    assert "lr_too_low" in rules(135)  # 45.0%


def test_without_a_class_count_a_doubling_validation_loss_is_overfitting() -> None:
    """A validation loss that never beat its first evaluation and ended at over twice it,
    beside a training loss that learnt, on a loss whose level shows no ln C (a Dice loss of
    0.013): with no uniform guess to be worse than, that is what a model overfitting from its
    first epoch shows, and it reads as overfitting, not as a broken validation set."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.frame import Run, Series

    settings = resolve_config(None, None).settings
    t = np.arange(1, 21, dtype=float)
    train = 0.02 * np.exp(-t / 8)
    val = 0.013 * (1 + t / 12)
    run = Run("mask", "keras_csv", {"loss": Series("loss", t, train, "epoch"),
                                    "val_loss": Series("val_loss", t, val, "epoch")})
    found = {f.rule: f for f in diagnose_run(run, settings).findings}
    assert "data_problem" not in found and "overfitting" in found
    assert "uniform guess" not in found["overfitting"].message


def test_a_second_half_that_went_back_up_is_not_said_to_have_flattened() -> None:
    """A curve that fell over its first half and climbed back part of it over the second
    brought nothing more (converged), and the evidence says how far it climbed back, not a
    negative share of progress."""
    import numpy as np

    from lossdoctor.engine.predicates.course import converged
    from lossdoctor.engine.subject import Subject
    from lossdoctor.frame import Series

    t = np.arange(40.0)
    fell = 0.4 + 0.6 * np.exp(-t / 4)
    back = np.where(t < 20, fell, fell + 0.01 * (t - 20))
    wobble = np.where(t < 20, fell, fell + 0.0005 * (t - 20))  # back up by under a tenth: flat
    # a first half that hardly fell and a second that climbed 10%: past all it brought
    past = np.where(t < 20, 0.5 - 0.0005 * t, 0.49 + 0.0025 * (t - 20))
    for values, key in ((fell, "pace"), (wobble, "pace"), (back, "climbed_back"), (past, "rose")):
        ev = converged(Subject("s", "test", {"val_loss": Series("val_loss", t, values, "epoch")}), "val_loss")
        assert ev is not None and key in ev and ev[key] >= 0
    assert 0.05 < ev["rose"] < 0.15  # 0.49 -> 0.54 over the second half, as a share of its level


def test_a_memorised_loss_whose_tail_shows_just_after_a_draw_has_no_spike_there() -> None:
    """A memorised loss whose first 10x-plus batch comes before any other (nothing in the 20
    points before it is as high) but is matched by the batches right after it: the noise's
    tail, read on both sides of the point, not a spike. The same point with a calm loss
    after it is one."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    rng = np.random.default_rng(5)
    steps = np.arange(0, 1500, 10, dtype=float)
    loss = 0.7 * np.exp(-steps / 60) + 0.005 * np.exp(rng.normal(0.0, 0.1, steps.size))
    loss[60] = 0.2
    calm = loss.copy()
    assert [e.step for e in events_of(steps, calm) if e.kind == "spike"] == [600.0]
    tailed = loss.copy()
    tailed[66:80:4] = 0.18  # the same height again, batch after batch: a heavy tail
    assert [e for e in events_of(steps, tailed) if e.kind == "spike"] == []


def test_a_spike_cut_off_by_the_end_of_the_log_is_a_spike_at_any_logging_rate() -> None:
    """A real epoch log (corpus: plain_csv-bg_removal_attempt2_spike) ends in a spike that is
    coming back down: 0.079, 0.100, 0.282, 0.420, 0.394, 0.307, 0.193. Logged every second
    epoch the end reads 0.079, 0.282, 0.394, 0.193: one point after the peak, back down 2x,
    is still the way back (a third of the climb), not a blow-up that never came back."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    avg = np.array([0.5357, 0.3711, 0.3984, 0.3832, 0.3949, 0.4543, 0.5625, 0.4282, 0.4337, 0.4653,
                    0.4502, 0.4469, 0.411, 0.4801, 0.4049, 0.3666, 0.3548, 0.3511, 0.3512, 0.3612,
                    0.3547, 0.3484, 0.3558, 0.3505, 0.3541, 0.3434, 0.3419, 0.3245, 0.3093, 0.2865,
                    0.1327, 0.0953, 0.0889, 0.0941, 0.0937, 0.0912, 0.0836, 0.0833, 0.1076, 0.0978,
                    0.0912, 0.087, 0.0867, 0.0788, 0.1002, 0.2824, 0.4202, 0.3938, 0.3065, 0.1932])
    epochs = np.arange(1, avg.size + 1, dtype=float)
    for keep in (slice(None), slice(1, None, 2)):
        kinds = [e.kind for e in events_of(epochs[keep], avg[keep])]
        assert "blow-up" not in kinds, (keep, kinds)
    assert [e.kind for e in events_of(epochs, avg)] == ["spike"]


def test_a_noisy_training_loss_settles_beside_a_flat_validation_loss_not_a_falling_one() -> None:
    """Underfitting judged on a per-step training loss too noisy to tell 2% (its second-half
    change misses 2% by noise): beside a flat validation loss it has settled; beside one still
    falling steadily, 1.5% over the second half and significant, it has not (a rate too low)."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.engine import readings
    from lossdoctor.engine.subject import pair_subjects
    from lossdoctor.frame import Run, Series
    from lossdoctor.roles import resolve

    settings = resolve_config(None, None).settings
    steps = np.arange(10, 490, 10, dtype=float)  # 48 batch samples, as the HF Trainer logs them
    evals = np.arange(12, 481, 12, dtype=float)  # 40 evaluations
    rng = np.random.default_rng(7)
    train = (0.75 + 0.2 * np.exp(-steps / 60)) * np.exp(rng.normal(0, 0.08, steps.size))
    flat = (0.75 + 0.19 * np.exp(-evals / 60)) * np.exp(rng.normal(0, 0.0005, evals.size))
    falling = flat * (1 - 0.03 * evals / 480)

    def run(val: np.ndarray) -> Run:
        return Run("mem", "test", {"loss": Series("loss", steps, train), "val_loss": Series("val_loss", evals, val)})

    (subj,) = list(pair_subjects(run(flat), resolve(run(flat))))
    assert abs(readings.shape(subj, "train_loss").tail.change) > np.log(1.02)  # too noisy to tell 2%
    assert "underfitting" in {f.rule for f in diagnose_run(run(flat), settings).findings}
    assert "underfitting" not in {f.rule for f in diagnose_run(run(falling), settings).findings}


def test_the_jump_just_before_a_logs_nan_is_judged_as_one_test() -> None:
    """A learning rate multiplied by 1.8 every epoch (development set, reseeded, Keras CSV, 8
    finite epochs): the loss falls 0.905 -> 0.024 by epoch 4, jumps to 0.102 and 0.093 (4x) as
    the rate reaches 0.19-0.34, and is NaN from epoch 7. The only noise an 8-point log has to
    read is its fall's curvature, which puts the jump under 6 sigma; the NaN names where to
    look, so the points before it face one test's 3 sigma, and the schedule's climb makes it a
    divergence from epoch 5. At a constant rate the same curve is a NaN with a first sign, and
    a log that stays at its level until the NaN has no jump to report."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.frame import Run, Series

    t = np.arange(20, dtype=float)
    loss = np.full(20, np.nan)
    loss[:7] = [0.905, 0.0809, 0.0297, 0.0249, 0.0237, 0.102, 0.0934]
    val = np.full(20, np.nan)
    val[:7] = [0.19, 0.0304, 0.0155, 0.00929, 0.0327, 0.0049, 0.0742]
    settings = resolve_config(None, None).settings

    def findings(train: np.ndarray, factor: float) -> list:
        run = Run("gamma", "keras_csv", {"loss": Series("loss", t, train, "epoch"),
                                         "val_loss": Series("val_loss", t, val, "epoch"),
                                         "learning_rate": Series("learning_rate", t, 0.01 * factor ** t, "epoch")})
        return diagnose_run(run, settings).findings

    def found(train: np.ndarray, factor: float) -> dict[str, float | None]:
        return {f.rule: f.step for f in findings(train, factor)}

    grown = found(loss, 1.8)
    assert grown.get("divergence") == 5.0 and "nan_loss" in grown, grown
    # The divergence and the NaNs of both losses name one rise, read into the NaN from the
    # training loss's best: one remedy once a report merges them.
    rises = {r for f in findings(loss, 1.8) for r in f.remedies if r.startswith("The learning rate rose")}
    assert len(rises) == 1 and "(0.105 to 0.612, from epoch 6)" in rises.pop()
    held = found(loss, 1.0)
    assert "divergence" not in held and "nan_loss" in held, held
    level = loss.copy()
    level[5:7] = [0.0241, 0.0233]
    steady = found(level, 1.8)
    assert "divergence" not in steady and "nan_loss" in steady, steady


def test_a_blow_up_from_a_level_already_shifted_up_left_its_course_at_the_shift() -> None:
    """A momentum-SGD warm-up to lr 1.0 (development set, reseeded, Lightning per-step loss
    every 5 steps): the loss sits near 0.4 for 50 steps, shifts to ~1.3 as the rate warms up
    (a change point of its own, 3x the level, through batch noise of 2-3x), thrashes there for
    130 steps and overflows at step 209. The run left its course at the shift, from 0.37, not
    at the overflow from 1.2. The same overflow from a level that never moved starts at the
    overflow."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    loss = np.array([1.05, 0.767, 0.164, 0.46, 0.453, 0.435, 0.366, 0.451, 0.267, 0.503, 0.384, 1.22,
                     0.637, 0.847, 0.368, 2.44, 1.11, 2.01, 0.754, 0.35, 11.2, 2.86, 1.57, 1.65, 0.809,
                     1.4, 1.32, 0.84, 2.15, 1.32, 1.44, 1.45, 1.19, 1.38, 0.704, 0.629, 1.22, 1.27, 1.19,
                     1.29, 0.851, 46.5] + [np.nan] * 18)
    steps = 4.0 + 5 * np.arange(loss.size)
    (shifted,) = [e for e in events_of(steps, loss) if e.kind == "blow-up"]
    assert shifted.step == 79.0 and shifted.base < 0.4, shifted
    flat = loss.copy()
    flat[11:41] = np.resize(loss[1:11], 30)  # the first level's draws, repeated up to the overflow
    (held,) = [e for e in events_of(steps, flat) if e.kind == "blow-up"]
    assert held.step == 209.0, held
    # Another seed: the climb's own walk back already found the level it left (0.28), yet dated
    # the climb at the last jump (step 154); the shift to ~1.8 began at step 79.
    other = np.array([0.987, 0.584, 0.416, 0.562, 0.515, 0.462, 0.33, 0.356, 0.482, 0.19, 0.364, 0.282,
                      0.127, 0.556, 0.672, 4.8, 0.716, 1.59, 1.25, 1.13, 1.1, 9.78, 3.67, 0.817, 2.39,
                      1.34, 0.804, 1.78, 0.149, 2.68, 1.94, 15.7, 5.64, 7937.0] + [np.nan] * 26)
    (late,) = [e for e in events_of(4.0 + 5 * np.arange(other.size), other) if e.kind == "blow-up"]
    assert late.step == 79.0 and late.base < 0.3, late


def test_a_spike_starts_after_the_draws_its_levels_noise_has_shown() -> None:
    """A mis-labelled shard at batch 300 (the development set's recipe, reseeded: the loss at
    0.16 jumps 50x and works the shard off over a dozen batches). The two batches before it
    stand 2.1x and 1.7x above the level: higher than any of the 20 before them, but not than
    a batch 60 steps earlier (2.4x), a draw of the same noise. The spike starts at the shard,
    not two batches early."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    rng = np.random.default_rng(11)
    loss = 0.16 * np.exp(np.clip(rng.normal(0, 0.3, 400), -0.5, 0.5))  # batches within 1.65x
    loss[240] = 0.16 * 2.4
    loss[298], loss[299] = 0.16 * 2.1, 0.16 * 1.7
    loss[300:312] = [7.8, 8.8, 7.7, 5.8, 4.0, 1.7, 2.3, 2.3, 1.8, 2.2, 1.2, 0.7]
    found = events_of(np.arange(400, dtype=float), loss)
    assert [(e.kind, e.step) for e in found] == [("spike", 300.0)], found


def test_a_loss_that_climbs_again_after_an_overflow_diverged_at_the_overflow() -> None:
    """A learning rate multiplied by 1.8 every epoch (development set, reseeded, Keras CSV):
    the loss bottoms at ~0.1, overflows to 5.2e9 at epoch 7, falls to 1.87 (a dead model at
    ln 6) and then climbs 570x over the 12 epochs left. Below half the overflow's log height
    at the end, it is not a spike on its way back: the climb after the peak is a significant
    upward trend, and the divergence began at the overflow."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    loss = np.array([1.002, 0.176, 0.1016, 0.1069, 0.1034, 0.2532, 0.201, 5.249e9, 1.8715, 1.9071,
                     1.9958, 2.538, 7.817, 25.351, 52.497, 82.35, 180.0, 302.6, 536.9, 1070.2])
    found = events_of(np.arange(loss.size, dtype=float), loss)
    assert [(e.kind, e.step) for e in found] == [("blow-up", 7.0)], found


def test_a_validation_loss_that_never_improved_is_named_with_its_own_numbers() -> None:
    """A 4-class CNN overfit on a tiny training set (development set, reseeded): the
    validation loss never beats its first evaluation (1.38) and ends at 3.4, while the
    validation accuracy agrees at 30% of 300 (within three binomial standard errors of 1/4).
    The finding is the validation loss's: it says that loss's numbers and adds the accuracy,
    not "val_loss stays at chance (30.0%)"."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.frame import Run, Series

    rng = np.random.default_rng(3)
    t = np.arange(60, dtype=float)
    loss = 1.45 * np.exp(-t / 6) + 3e-4
    val = 1.38 * np.exp(0.015 * t) * np.exp(rng.normal(0, 0.002, t.size))
    acc = np.round(rng.normal(0.28, 0.01, t.size) * 300) / 300
    acc[:3] = [75 / 300, 77 / 300, 74 / 300]
    run = Run("tiny", "keras_csv", {"loss": Series("loss", t, loss, "epoch"),
                                    "val_loss": Series("val_loss", t, val, "epoch"),
                                    "val_accuracy": Series("val_accuracy", t, acc, "epoch")})
    found = [f for f in diagnose_run(run, resolve_config(None, None).settings).findings if f.rule == "data_problem"]
    assert found and found[0].metric == "val_loss"
    assert found[0].message.startswith("val_loss was never better than at its first evaluation (1.3")
    assert "stays at chance" not in found[0].summary
    assert "the accuracy is" in found[0].message and "for 4 classes" in found[0].message


def test_the_checkpoint_to_keep_is_within_a_levels_noise_of_the_lowest() -> None:
    """A 1D CNN that overfits late (development set, reseeded, Ultralytics' results.csv): its
    validation loss has a point noise of 5%, lowest at epoch 12 (0.983, one low draw between
    1.133 and 1.078), and at 1.0005 at epoch 19 between 1.047 and 1.051. Within one sigma of
    the lowest draw, epoch 8 (1.032) would be "as good"; within the noise of a level of three
    evaluations (1.25 sigma / sqrt 3) it is not, and the checkpoint kept is epoch 19, within 2%
    of the minimum and where the curve stood lowest."""
    import numpy as np

    from lossdoctor.engine.curves.best import keep_point

    val = np.array([1.3762, 1.3492, 1.3125, 1.2064, 1.1935, 1.117, 1.1199, 1.0318, 1.0608, 1.1838, 1.133,
                    0.98304, 1.0775, 1.0596, 1.0685, 1.1454, 1.0651, 1.0472, 1.0005, 1.0512, 1.0331, 1.1978,
                    1.1931, 1.051, 1.2131, 1.285, 1.1746, 1.1455, 1.1403, 1.2203, 1.1877, 1.4119, 1.1776,
                    1.2638, 1.3077, 1.2686, 1.2342, 1.3011, 1.2767, 1.4061, 1.4195, 1.6177, 1.3276, 1.4186,
                    1.4213, 1.5194, 1.5519, 1.4886, 1.733, 1.552, 1.698, 1.5002, 1.5531, 1.5832, 1.6689,
                    1.6019, 1.5948, 1.6295, 1.598, 1.6167])
    epoch = keep_point(np.log(val)) + 1  # epochs 1-based, as Ultralytics writes them
    assert epoch == 19 and val[epoch - 1] <= 1.02 * val.min()


# ---- a rule's milder reading -----------------------------------------------------------

MILDER_RULE = """id: my_rule
title: Full
severity: warning
message: "{{metric}}: the full reading"
remedies: ["do it"]
when: {when}
milder:
  severity: info
  title: Milder
  when: {milder}
  message: "{{metric}}: the milder reading"
"""


@pytest.mark.parametrize("when,milder,expected", [
    ("{has: {slot: val_loss}}", "{has: {slot: train_loss}}", ("warning", "Full", "the full reading")),
    ("{not: {has: {slot: val_loss}}}", "{has: {slot: train_loss}}", ("info", "Milder", "the milder reading")),
    ("{not: {has: {slot: val_loss}}}", "{not: {has: {slot: train_loss}}}", None),
])
def test_the_milder_reading_is_tried_only_when_the_full_one_does_not_hold(
        tmp_path: Path, when: str, milder: str, expected: tuple[str, str, str] | None) -> None:
    """One finding per rule and subject: the full reading at the rule's severity, else the
    milder one at its own, with its own title and message, else none."""
    from lossdoctor.diagnose import Settings, diagnose_path

    path = tmp_path / "r.yaml"
    path.write_text(MILDER_RULE.format(when=when, milder=milder))
    rule, = load_rule_file(path)
    diag = diagnose_path(ROOT / "examples" / "overfitting", Settings(rules=(rule,)))
    got = [(f.severity.label, f.title, f.message.split(": ", 1)[1]) for f in diag.findings]
    assert got == ([expected] if expected else [])


def test_rules_show_prints_the_milder_reading() -> None:
    code, out, _ = invoke("rules", "show", "overfitting")
    assert code == 0
    head, milder = out.split("Else, as 'Overfitting has begun' at info (the milder reading), when:")
    assert "val_rises_after_best" in head and "gap_widens_after_best" not in head
    assert "gap_widens_after_best" in milder.split("Thresholds")[0]


def test_a_zero_among_the_validation_losses_does_not_shift_the_checkpoint(tmp_path: Path) -> None:
    """The best evaluation is found on the log-loss (positive values only), so a 0 logged at
    epoch 1 is not a point of it: the step and value reported are those of epoch 20, the
    lowest positive evaluation, not of the evaluation one place before it."""
    import numpy as np

    from lossdoctor.diagnose import Settings, diagnose_path

    t = np.arange(40)
    train = 2.3 * np.exp(-t / 10) + 0.05
    val = 2.2 * np.exp(-t / 6) + 0.5 + 0.02 * np.clip(t - 20, 0, None)
    val[1] = 0.0
    path = tmp_path / "training.csv"
    path.write_text("epoch,loss,val_loss\n" + "".join(f"{i},{float(a)!r},{float(b)!r}\n" for i, a, b in zip(t, train, val)))
    (over,) = [f for f in diagnose_path(path, Settings.default()).findings if f.rule == "overfitting"]
    assert over.step == 20 and over.evidence["best"] == val[20]


@pytest.mark.parametrize("batch_at_best", [0.45, 0.25])
def test_the_training_level_at_the_best_is_a_median_like_the_ends(batch_at_best: float) -> None:
    """A per-step training loss around 0.40 at the validation loss's best (step 100) falls to
    0.33 by the end: 18% after the best, the training going on fitting. The one batch logged
    at the best step, high (0.45) or low (0.25), must not decide it: held against the median
    of the last points, a low batch alone would read as no fall at all."""
    import numpy as np

    from lossdoctor.engine.predicates.validation import train_falls_after_best
    from lossdoctor.engine.subject import Subject
    from lossdoctor.frame import Series

    rng = np.random.default_rng(5)
    steps = np.arange(0, 400, 5, dtype=float)
    level = 0.33 + 0.07 * np.clip((300 - steps) / 200, 0, 1)  # 0.40 up to step 100, 0.33 from 300
    train = level * np.exp(rng.normal(0, 0.05, steps.size))
    train[steps == 100] = batch_at_best
    evals = np.arange(20, 400, 20, dtype=float)
    val = 0.5 + 0.0004 * np.abs(evals - 100)
    subj = Subject("loss", "test", {"train_loss": Series("train_loss", steps, train),
                                    "val_loss": Series("val_loss", evals, val)})
    ev = train_falls_after_best(subj)
    assert ev is not None and 0.12 < ev["train_drop"] < 0.24


def test_the_spike_message_says_how_many_spikes_the_largest_was_one_of() -> None:
    """One spike is "the only such spike"; two are "the largest of 2", the larger one named."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.frame import Run, Series

    settings = resolve_config(None, None).settings
    t = np.arange(1, 201, dtype=float)
    base = (0.3 + 2.0 * np.exp(-t / 20)) * np.exp(np.random.default_rng(5).normal(0, 0.02, t.size))

    def spike_message(at: dict[int, float]) -> str:
        loss = base.copy()
        for i, x in at.items():
            loss[i] *= x
        run = Run("spiky", "keras_csv", {"loss": Series("loss", t, loss, "step")})
        found = {f.rule: f for f in diagnose_run(run, settings).findings}
        return found["loss_spike"].message

    assert spike_message({120: 8.0}).endswith("the only such spike in the run.")
    two = spike_message({80: 6.0, 150: 12.0})
    assert "the largest of 2 such spikes" in two and "at step 151" in two  # index 150, the 12x one


def test_a_lone_draw_of_heavy_tailed_noise_before_a_jump_is_not_its_start() -> None:
    """Batch noise of 15% (log sd) with a heavy tail: now and then a batch at 2x its level
    (step 585). The batch just before the jump (1.8x) is outside 3 MAD sigmas (1.57x) but no
    higher than that draw: one of the level's own, and the climb starts at the jump (the
    reseeded development set's corrupted batches: 4 of 33 seeds one step early)."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    rng = np.random.default_rng(11)
    steps = np.arange(1000, dtype=float)
    loss = 0.015 * np.exp(rng.normal(0.0, 0.15, steps.size))
    loss[[300, 450, 585]] = 0.015 * 2.07
    loss[599] = 0.015 * 1.8
    loss[600:603] = 110.0
    spikes = [e for e in events_of(steps, loss) if e.kind == "spike"]
    assert [e.step for e in spikes] == [600.0]


def test_a_gradual_climb_keeps_its_start() -> None:
    """A rate restarted: the loss climbs over 40 steps from its level, each step's rise small
    against the noise. Its first points above the band are followed by more above it: a
    climb, not lone draws, and the onset stays where the walk back put it."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    rng = np.random.default_rng(12)
    steps = np.arange(1000, dtype=float)
    level = np.where(steps < 500, 0.01, 0.01 * np.exp(np.clip((steps - 500) / 40, 0, 1) * np.log(20)))
    level = np.where(steps > 600, 0.01, level)
    loss = level * np.exp(rng.normal(0.0, 0.15, steps.size))
    spikes = [e for e in events_of(steps, loss) if e.kind == "spike"]
    assert spikes and 500 <= spikes[0].step <= 515


def test_a_jump_on_a_seven_point_log_is_not_judged_against_its_own_difference() -> None:
    """A Keras schedule with gamma 1.8 (the development set's, one seed): train 0.936, 0.063,
    0.024, 0.0177, 0.0184, 0.0192, then 0.0857 and NaN. Seven finite points give four second
    differences; the jump's own is one of them and with it the noise reads 0.39 (6 sigma:
    10x), without it 0.19, which the 4.5x jump clears."""
    import numpy as np

    from lossdoctor.engine.curves.excursions import local_noise, point_excursions
    from lossdoctor.engine.curves.noise import point_noise

    loss = np.array([0.9357, 0.06273, 0.02418, 0.01774, 0.01844, 0.01920, 0.08570, np.nan])
    y = np.log(loss)
    noise = local_noise(y[:7], 5)
    assert noise[6] < point_noise(y[:7]) / 1.5
    found = point_excursions(np.arange(8.0), y)
    assert [(e.start, e.nonfinite) for e in found] == [(6, True)]


def test_the_rate_to_lower_is_the_one_reached_before_the_nan(tmp_path: Path) -> None:
    """A schedule grown 1.8x per epoch into a NaN at epoch 8, still logged for 12 epochs
    after: the rate to lower is the one the loss left its course at (0.61 at epoch 7, its
    first sign), not the 706 the schedule reached when nothing was training any more (nor
    the 1.1 of the NaN's epoch, already past the event)."""
    from synthetic import schedule_grows_into_nan

    _, out, _ = invoke("diagnose", str(schedule_grows_into_nan(tmp_path)), "--format", "json")
    div = next(f for f in json.loads(out)["runs"][0]["findings"] if f["rule"] == "divergence")
    assert abs(div["evidence"]["lr"] - 0.01 * 1.8 ** 7) < 1e-4 and div["step"] == 7


def test_a_checkpoint_before_a_lower_draw_says_where_the_lowest_value_was(tmp_path: Path) -> None:
    """The development set generator's late-overfitting 1D CNN (Ultralytics-style results,
    one reseed; losses to 4 digits): validation 0.980 at epoch 12, a low draw of 0.957 at 15,
    noise 4.6% per evaluation. The checkpoint named is epoch 12 (as good within the noise,
    and earlier); the message says the lowest value and where it was, so a reader who finds
    0.957 later in the log does not take the checkpoint for a mistake."""
    from synthetic import keras_csv

    train = [1.4037, 1.3784, 1.3113, 1.2515, 1.1898, 1.114, 1.0926, 1.0457, 1.0631, 1.0036, 0.9855, 0.9908,
             0.9256, 0.8683, 0.9164, 0.8214, 0.767, 0.7419, 0.7222, 0.6967, 0.7288, 0.6531, 0.5927, 0.582, 0.5121,
             0.485, 0.4221, 0.422, 0.4402, 0.3651, 0.3409, 0.279, 0.2552, 0.2888, 0.2377, 0.2063, 0.2188, 0.1847,
             0.195, 0.146, 0.1522, 0.1237, 0.1177, 0.1168, 0.1011, 0.0969, 0.0956, 0.0698, 0.068, 0.0661, 0.0651,
             0.0693, 0.0633, 0.0548, 0.053, 0.0527, 0.0485, 0.0466, 0.0453, 0.0434]
    val = [1.3687, 1.3669, 1.2149, 1.1541, 1.0839, 1.1133, 1.1209, 1.1228, 1.0676, 1.0496, 1.0295, 0.9803,
           1.0256, 1.4693, 0.9575, 1.0256, 1.1473, 0.9702, 1.0181, 1.3101, 1.1607, 0.9946, 1.0822, 1.0173, 1.0167,
           1.0878, 1.1418, 1.1239, 1.1475, 1.2561, 1.2709, 1.1017, 1.4031, 1.2155, 1.2364, 1.4115, 1.5331, 1.5752,
           1.434, 1.6005, 1.379, 1.3234, 1.4244, 1.3801, 1.6435, 1.5876, 1.5121, 1.6227, 1.5057, 1.517, 1.5484,
           1.537, 1.5605, 1.5914, 1.5895, 1.6145, 1.5795, 1.6227, 1.5936, 1.6126]
    import numpy as np

    log = keras_csv(tmp_path / "late" / "training.log", np.array(train), np.array(val))
    _, out, _ = invoke("diagnose", str(log), "--format", "json")
    over = next(f for f in json.loads(out)["runs"][0]["findings"] if f["rule"] == "overfitting")
    assert over["evidence"]["best_step"] == 11 and over["evidence"]["min_step"] == 14  # keras epochs count from 0
    assert "its lowest value, 0.9575 at epoch 14" in over["message"]


def test_a_lowest_value_equal_to_the_checkpoints_at_the_shown_digits_is_not_said_twice() -> None:
    """A real Ultralytics run (corpus: wheat_weed_v8): val/box_loss 1.22828 at epoch 2, the
    checkpoint, and a lower draw at epoch 3 that also reads 1.228 at the message's 4
    significant digits. "1.228; its lowest value, 1.228" reads as a typo, so it is left out."""
    from conftest import CORPUS

    _, out, _ = invoke("diagnose", str(CORPUS / "yolo-wheat_weed_v8_results"), "--format", "json")
    box = next(f for f in json.loads(out)["runs"][0]["findings"]
               if f["rule"] == "overfitting" and f["metric"] == "val/box_loss")
    assert f"{box['evidence']['best']:.4g}" == "1.228"
    assert "min" not in box["evidence"] and "its lowest value" not in box["message"]


def test_a_gap_that_grew_ten_fold_is_said_as_a_factor(tmp_path: Path) -> None:
    """A validation loss flat at its best while the training loss falls to ~0: the ratio of
    the two grows by orders of magnitude, said as "grew 404x", not "grew 40334%"."""
    import numpy as np
    from synthetic import keras_csv

    t = np.arange(40.0)
    train = 1.0 * np.exp(-t / 3) + 1e-6
    val = 0.3 + 0.2 * np.exp(-t / 3) + 0.002 * np.random.default_rng(1).normal(size=t.size)
    log = keras_csv(tmp_path / "flat" / "training.log", train, val)
    _, out, _ = invoke("diagnose", str(log), "--format", "json")
    over = next(f for f in json.loads(out)["runs"][0]["findings"] if f["rule"] == "overfitting")
    assert over["evidence"]["widen_x"] >= 10 and f"grew {over['evidence']['widen_x']:.3g}x" in over["message"]
    assert "000%" not in over["message"]


def test_a_blow_up_that_settles_at_the_untrained_loss_is_not_a_spike_on_its_way_back() -> None:
    """A warm-up past stability (development set, reseeded +49, every 5th step): the loss goes
    from 0.12 to 2.7e6, comes down, and sits at 0.8-2.3 -- the untrained 1.3 -- for its last 20
    points. Below half its height in log units, yet settled at a level that undid the
    training: a blow-up, not a spike on its way back. A spike that dents the loss (137 for
    three steps, then 0.04 where it was 0.01, far below the untrained 1.44) stays a spike."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    blown = np.array([1.31, 0.894, 0.334, 0.174, 0.274, 0.554, 0.469, 0.198, 0.646, 0.499, 0.177, 0.107,
                      0.159, 0.124, 0.0877, 0.725, 0.637, 0.73, 1.08, 0.988, 0.497, 2.81, 6.86, 1.14, 3.1,
                      86.4, 2.68e6, 1.15e6, 4.8e4, 6.13e5, 3.58e5, 3.35e4, 1.39e4, 5.61e4, 5.52e4, 3.46e4,
                      1.79e4, 8.6e3, 4.48e3, 2.7e3, 1.95e3, 1.43e3, 974, 591, 221, 25.2, 29.4, 87.4, 51.8,
                      3.43, 14.8, 10.2, 1.21, 1.57, 1.01, 5.57, 1.14, 1.85, 6.8, 1.58, 2.66, 1.88, 2.07,
                      0.788, 1.14, 0.92, 1.29, 2.26, 1.48])
    steps = 4.0 + 5.0 * np.arange(blown.size)
    events = events_of(steps, blown)
    assert events[0].kind == "blow-up" and events[0].step == 79 and events[0].end_step == steps[-1]

    rng = np.random.default_rng(0)
    dented = np.concatenate([1.44 * np.exp(-np.arange(600) / 60) + 0.01 * np.exp(rng.normal(0, 0.2, 600)),
                             [124.0, 137.0, 116.0], 0.04 * np.exp(rng.normal(0, 0.25, 357))])
    assert {e.kind for e in events_of(np.arange(dented.size, dtype=float), dented)} == {"spike"}


def test_a_spike_the_log_ends_on_a_steady_way_back_from_is_a_spike() -> None:
    """One corrupted batch knocks a regression model from 0.0059 to 0.56 (validation, a real
    Lightning CSV of benchmarks/fresh_set.py, seed 2); it re-learns at its own pace, falling at
    every evaluation, and the run ends at 0.13 -- a third of the way back in log units. The
    log ends on a steady way back: a spike, said to be unrecovered. The same knock that stays
    up (no fall over the last half of the points after it) left its course: a blow-up."""
    import numpy as np

    from lossdoctor.engine.curves.events import events_of

    before = [0.281, 0.0281, 0.0174, 0.0128, 0.0102, 0.00904, 0.00827, 0.00735, 0.00719, 0.00678, 0.0063,
              0.00638, 0.00631, 0.00623, 0.00624, 0.00611, 0.00593, 0.00592, 0.0057, 0.00575]
    back = np.array(before + [0.347, 0.559, 0.485, 0.418, 0.36, 0.303, 0.252, 0.205, 0.165, 0.131])
    steps = 28.0 + 29.0 * np.arange(back.size)
    (event,) = events_of(steps, back)
    assert event.kind == "spike" and event.step == 608 and event.end_step is None and abs(event.final - 0.131) < 1e-9

    stays = np.array(before + [0.347, 0.559, 0.485, 0.5, 0.47, 0.52, 0.49, 0.5, 0.48, 0.51])
    assert [e.kind for e in events_of(steps, stays)] == ["blow-up"]


def test_a_spike_cut_off_on_its_way_back_says_where_the_loss_got_to(tmp_path: Path) -> None:
    """The report of a spike the log ends on: not "came back down", but how far it got."""
    import numpy as np
    from synthetic import keras_csv

    loss = np.array([0.281, 0.0281, 0.0174, 0.0128, 0.0102, 0.00904, 0.00827, 0.00735, 0.00719, 0.00678,
                     0.0063, 0.00638, 0.00631, 0.00623, 0.00624, 0.00611, 0.00593, 0.00592, 0.0057, 0.00575,
                     0.347, 0.559, 0.485, 0.418, 0.36, 0.303, 0.252, 0.205, 0.165, 0.131])
    log = keras_csv(tmp_path / "knocked" / "training.log", loss)
    _, out, _ = invoke("diagnose", str(log), "--format", "json")
    spike = next(f for f in json.loads(out)["runs"][0]["findings"] if f["rule"] == "loss_spike")
    assert "still coming down when the log ended (last value 0.131, 22.1x that level)" in spike["message"]
    assert "came back down" not in spike["message"]


def test_a_divergence_says_the_highest_value_it_climbed_to(tmp_path: Path) -> None:
    """A Keras schedule that multiplies the rate by 1.8 each epoch (the development set's
    gamma > 1 run): the loss jumps to 27.8 at epoch 7, falls back to 1.9 and climbs on to 932.
    It "climbed to 932", the highest value since it left its course, not to 27.8 with a last
    value above that."""
    import numpy as np
    from synthetic import keras_csv

    loss = [0.8685, 0.07769, 0.03354, 0.0292, 0.032, 0.05968, 0.1507, 27.79, 1.8935, 1.9327, 2.0233,
            2.2852, 6.977, 26.656, 48.8, 85.86, 133.69, 240.69, 427.61, 931.94]
    log = keras_csv(tmp_path / "gamma" / "training.log", np.array(loss))
    _, out, _ = invoke("diagnose", str(log), "--format", "json")
    div = next(f for f in json.loads(out)["runs"][0]["findings"] if f["rule"] == "divergence")
    assert div["evidence"]["peak"] == 931.94 and "climbed to 931.9" in div["message"]


def test_under_a_rate_that_grows_to_the_end_the_remedy_lowers_the_rate_at_the_event(tmp_path: Path) -> None:
    """A Keras schedule that multiplies the rate by 1.8 each epoch (0.01 -> 708): the loss left
    its course at epoch 6, at 0.34. The rate to lower is that one, not the 708 the schedule
    reached long after; a warm-up that holds its peak keeps the peak (the rate the user set)."""
    loss = [0.8685, 0.07769, 0.03354, 0.0292, 0.032, 0.05968, 0.1507, 27.79, 1.8935, 1.9327, 2.0233,
            2.2852, 6.977, 26.656, 48.8, 85.86, 133.69, 240.69, 427.61, 931.94]
    rate = [0.01 * 1.8 ** i for i in range(len(loss))]
    log = tmp_path / "gamma" / "training.log"
    log.parent.mkdir()
    log.write_text("epoch,learning_rate,loss\n" + "".join(f"{i},{r},{v}\n" for i, (r, v) in enumerate(zip(rate, loss))))
    _, out, _ = invoke("diagnose", str(log), "--format", "json", "--verbose")
    div = next(f for f in json.loads(out)["runs"][0]["findings"] if f["rule"] == "divergence")
    texts = [r if isinstance(r, str) else r.get("text", str(r)) for r in div["remedies"]]
    text = next(t for t in texts if t.startswith("Lower the learning rate"))
    assert "from 0.34 to 0.034" in text and "708" not in text
    # The schedule's climb into it is named first, with the rate at the onset, not the 708.
    assert texts[0].startswith("The learning rate rose") and "to 0.34, from epoch 5" in texts[0]
    assert "708" not in texts[0]


def test_a_nan_says_the_jump_just_before_it_and_a_nan_out_of_nothing_does_not(tmp_path: Path) -> None:
    """At a constant rate, a memorised loss jumps 7x at epoch 7 and is NaN from epoch 8: the
    NaN is the event, and its message says where the jump that ran into it began. A NaN
    with no excursion before it (the shipped example) says nothing of the kind."""
    from synthetic import nan_after_a_first_sign

    _, out, _ = invoke("diagnose", str(nan_after_a_first_sign(tmp_path)), "--format", "json")
    nan = next(f for f in json.loads(out)["runs"][0]["findings"] if f["rule"] == "nan_loss" and f["metric"] == "loss")
    assert nan["evidence"]["sign_step"] == 7 and 5 < nan["evidence"]["sign_ratio"] < 10
    assert "just before, from epoch 7, it had jumped" in nan["message"]
    _, out, _ = invoke("diagnose", NAN_RUN, "--format", "json")
    nans = [f for r in json.loads(out)["runs"] for f in r["findings"] if f["rule"] == "nan_loss"]
    assert nans and not any("sign_step" in f["evidence"] for f in nans)


def _restart_run(lr_jump: bool, blow_up: bool):
    """A per-step loss falling to ~0.01 under a cosine-like decaying rate; at step 500 the
    rate restarts to 0.03 (or stays decayed) and at 520 the loss jumps 30x and comes back
    (or climbs 100x and stays there)."""
    import numpy as np

    from lossdoctor.frame import Run, Series

    rng = np.random.default_rng(3)
    steps = np.arange(0, 800, dtype=float)
    loss = (0.01 + 1.3 * np.exp(-steps / 60)) * np.exp(rng.normal(0, 0.1, steps.size))
    lr = 0.03 * 0.5 * (1 + np.cos(np.pi * np.minimum(steps, 499) / 500)) + 1e-6
    if lr_jump:
        lr[500:] = 0.03 * 0.5 * (1 + np.cos(np.pi * (steps[500:] - 500) / 500))
    if blow_up:
        loss[520:] *= 100
    else:
        loss[520:526] *= 30
    return Run("restart", "tensorboard", {"train/loss": Series("train/loss", steps, loss, "step"),
                                          "train/lr": Series("train/lr", steps, lr, "step")})


@pytest.mark.parametrize("blow_up", [False, True])
def test_an_event_under_a_restarted_rate_names_the_rise(blow_up: bool) -> None:
    """A spike (or a blow-up) 20 steps after a warm restart took the rate from 1e-6 to 0.03
    says so in its remedies, with the step the rate rose at; the same event under a rate
    that kept decaying does not (nothing rose into it)."""
    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run

    settings = resolve_config(None, None).settings
    rule = "divergence" if blow_up else "loss_spike"
    restarted = {f.rule: f for f in diagnose_run(_restart_run(True, blow_up), settings).findings}
    rise = [r for r in restarted[rule].remedies if r.startswith("The learning rate rose")]
    assert len(rise) == 1 and "from step 500" in rise[0], restarted[rule].remedies
    assert restarted[rule].evidence["lr_onset"] > 1e4 * restarted[rule].evidence["lr_before"]
    decayed = {f.rule: f for f in diagnose_run(_restart_run(False, blow_up), settings).findings}
    assert not [r for r in decayed[rule].remedies if r.startswith("The learning rate rose")]


def test_a_nan_under_a_rate_that_jumped_names_the_jump() -> None:
    """Epoch means of a run whose rate jumped 200x at epoch 8 (the generated set's lr jump,
    logged per epoch): the epoch that blew up averages to NaN, so no climb shows, only the NaN.
    Its first remedy names the jump, with the rate the weights trained at; at a constant rate
    the same NaN does not."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.frame import Run, Series

    t = np.arange(20, dtype=float)
    loss = 1.9 * np.exp(-t / 3) + 0.15
    loss[8:] = np.nan

    def nan_remedies(jumped: bool) -> tuple[str, ...]:
        lr = np.where(t >= 8, 10.0, 0.05) if jumped else np.full(20, 0.05)
        run = Run("jump", "keras_csv", {"loss": Series("loss", t, loss, "epoch"),
                                        "learning_rate": Series("learning_rate", t, lr, "epoch")})
        (nan,) = [f for f in diagnose_run(run, resolve_config(None, None).settings).findings if f.rule == "nan_loss"]
        return nan.remedies

    jumped = nan_remedies(True)
    assert jumped[0].startswith("The learning rate rose 200x into it (0.05 to 10, from epoch 8)"), jumped
    assert not [r for r in nan_remedies(False) if r.startswith("The learning rate rose")]


def test_a_rate_too_low_shows_its_straight_course_on_either_curve() -> None:
    """A detectron2-like log (50 training points, 10 evaluations over 1,000 iterations) whose
    validation loss falls on a straight line, 23% over the run and still falling, while the
    thinned training loss front-loads a little (its second half brings 0.21 of what its
    first did, short of the 0.3 a straight course needs): the validation loss, an average
    over the whole set, shows the model's pace, and the rate is too low. With the validation
    loss bending as the training loss does, it is not."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.frame import Run, Series

    settings = resolve_config(None, None).settings
    steps = np.arange(19, 1000, 20, dtype=float)
    train = 1.83 * (1 - 0.3 * (1 - np.exp(-steps / 300)))
    evals = np.arange(99, 1000, 100, dtype=float)

    def rules(val: np.ndarray) -> set[str]:
        run = Run("d2", "detectron2_json", {"total_loss": Series("total_loss", steps, train, "iteration"),
                                            "validation_loss": Series("validation_loss", evals, val, "iteration")})
        return {f.rule for f in diagnose_run(run, settings).findings}

    assert "lr_too_low" in rules(1.73 * (1 - 0.23 * evals / 999))
    assert "lr_too_low" not in rules(1.73 * (1 - 0.3 * (1 - np.exp(-evals / 300))))


def test_a_rate_too_low_shows_its_significant_fall_on_either_curve() -> None:
    """SGD at 1e-4 (the development set's Lightning recipe): 50 per-step training losses
    falling 3% under batch noise of 4% (Mann-Kendall p = 0.28 over the run, short of
    significance) beside twelve evaluations falling on a straight line, 4% over the run,
    with the accuracy pinned near 30% for 6 classes. The validation loss shows the fall the
    batches hide, and the rate is too low; beside a flat validation loss it is not."""
    import numpy as np

    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from lossdoctor.frame import Run, Series

    settings = resolve_config(None, None).settings
    rng = np.random.default_rng(2)
    steps = np.linspace(0, 683, 50)
    train = 1.86 * (1 - 0.03 * steps / 683) * np.exp(rng.normal(0, 0.04, steps.size))
    evals = np.linspace(56, 683, 12)
    acc = np.linspace(0.297, 0.347, evals.size)

    def rules(val: np.ndarray) -> set[str]:
        run = Run("sgd", "tensorboard", {"train_loss_step": Series("train_loss_step", steps, train, "step"),
                                         "val_loss": Series("val_loss", evals, val, "step"),
                                         "val_acc": Series("val_acc", evals, acc, "step")})
        return {f.rule for f in diagnose_run(run, settings).findings}

    assert "lr_too_low" in rules(1.82 * (1 - 0.04 * (evals - 56) / 627))
    assert "lr_too_low" not in rules(np.full(evals.size, 1.82))


def test_a_slow_fall_whose_loss_lags_its_accuracy_says_by_how_much(tmp_path) -> None:
    """An 8-class run whose accuracy cut its error rate by 45% (within two standard errors of
    half, which alone keeps lr_too_low silent) while its loss stayed near ln 8: the warning
    gives the accuracy, the loss and the ceiling a calibrated classifier would stay under."""
    import lossdoctor
    from lossdoctor.commands.common import resolve as resolve_config
    from lossdoctor.diagnose import diagnose_run
    from synthetic import slow_calibrated, slow_underconfident

    settings = resolve_config(None, None).settings
    (slow,) = [f for f in diagnose_run(lossdoctor.read(slow_underconfident(tmp_path))[0], settings).findings
               if f.rule == "lr_too_low"]
    assert "val_accuracy reached 51.7%, but val_loss ends at 1.873, above the 1.725" in slow.message, slow.message
    assert not [f for f in diagnose_run(lossdoctor.read(slow_calibrated(tmp_path))[0], settings).findings
                if f.rule == "lr_too_low"]
