"""The spike score (OLMo-core's definition), ZClip's gradient-norm spikes, their lead over the
loss, and loss-scale drops / skipped steps: hand-checked series and an independent port."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lossdoctor.engine.curves.episodes import loss_episodes
from lossdoctor.engine.curves.grad_spikes import episodes, lead_times, zclip_flags
from lossdoctor.engine.curves.loss_scaling import scale_drops, skipped_steps
from lossdoctor.engine.curves.spike_score import combined, spike_flags, spike_score

BASE = [1.0, 3.0] * 64  # 128 values: mean 2, population standard deviation 1


def test_spike_score_by_hand() -> None:
    # Point 128 (9.0): its window is BASE, mean 2, std 1 -> threshold 2 + 6 * 1 = 8 < 9: a spike.
    # Point 129 (9.0): its window is BASE[1:] + [9.0]: 63 ones, 64 threes and the 9, so
    #   mean = (63 + 192 + 9) / 128 = 2.0625, E[x^2] = (63 + 576 + 81) / 128 = 5.625,
    #   var = 5.625 - 2.0625^2 = 1.37109375, std = 1.17094 -> threshold 9.0881 > 9: not a spike
    #   (the first spike widened the window, as OLMo's history keeps it).
    # Point 130 (1.0): no. So 1 spike point in 131: the run's score is 1/131.
    values = np.array(BASE + [9.0, 9.0, 1.0])
    flags = spike_flags(values)
    assert np.flatnonzero(flags).tolist() == [128]
    score = spike_score(np.arange(values.size) * 10.0, values)
    assert (score.points, score.judged, score.steps) == (1, 131, (1280.0,))
    assert score.run == pytest.approx(1 / 131)
    assert score.max_rolling is None and score.last_rolling is None  # fewer than 10,000 points


def test_the_threshold_is_strict_and_the_first_128_points_are_never_spikes() -> None:
    at = np.array(BASE + [8.0])  # exactly mean + 6 std: OLMo asks for value > threshold
    assert not spike_flags(at).any()
    early = np.array([1.0, 3.0] * 10 + [1e6] + BASE)  # a huge value before 128 were seen
    assert not spike_flags(early)[:128].any()
    assert spike_score(np.arange(100.0), np.ones(100)).run is None  # no score before 128 points
    assert not spike_flags(np.full(300, 2.5)).any()  # a constant window (std < 1e-10) has no spikes


def test_rolling_score_over_10000_points() -> None:
    # Spikes at 200, 400 and 9000 in 10,300 alternating points: the window of points 0-9999
    # holds all three (3 / 10,000), the last one (300-10,299) two of them.
    values = np.array([1.0, 3.0] * 5150)
    values[[200, 400, 9000]] = 20.0
    score = spike_score(np.arange(values.size, dtype=float), values)
    assert score.points == 3 and score.run == pytest.approx(3 / 10300)
    assert score.max_rolling == pytest.approx(3 / 10000) and score.last_rolling == pytest.approx(2 / 10000)


def olmo_port(values: list[float], window: int = 128, threshold: float = 6.0) -> list[bool]:
    """The callback's loop, written from its definition: judge against the history, then append."""
    history: list[float] = []
    out = []
    for v in values:
        spike = False
        if len(history) >= window:
            mean = sum(history) / len(history)
            std = math.sqrt(sum((x - mean) ** 2 for x in history) / len(history))
            spike = std >= 1e-10 and v > mean + threshold * std
        out.append(spike)
        history.append(v)
        if len(history) > window:
            history.pop(0)
    return out


def test_matches_the_callback_loop_on_a_heavy_tailed_curve() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    loss = (2.5 + 8 * np.exp(-np.arange(n) / 300)) * np.exp(0.02 * rng.standard_t(3, n))
    loss[rng.choice(np.arange(200, n), 25, replace=False)] *= rng.uniform(1.05, 3.0, 25)
    assert spike_flags(loss).tolist() == olmo_port(loss.tolist())
    assert spike_flags(loss).sum() > 10


def test_combined_counts_a_step_once_and_leaves_nan_out() -> None:
    steps = np.arange(140.0)
    loss, grad = np.array(BASE + [1.0] * 12), np.array(BASE + [1.0] * 12)
    loss[130] = grad[130] = 50.0  # both at step 130: one spike step
    grad[135] = 50.0
    both = combined([(steps, loss, ()), (steps, grad, ())])
    assert (both.points, both.judged, both.steps) == (2, 140, (130.0, 135.0))
    with_nan = np.concatenate([loss[:60], [np.nan], loss[60:]])
    assert spike_score(np.arange(141.0), with_nan).judged == 140  # NaN is the nan_loss rule's


def test_a_restart_starts_a_fresh_window() -> None:
    # A restore onto an older checkpoint: the loss jumps from ~2 back to ~6 at step 200.
    values = np.array(BASE + [1.0, 3.0] * 36 + [9.0, 11.0] * 100)
    steps = np.arange(values.size, dtype=float)
    assert spike_flags(values)[200]  # read as one run, the restore is a spike
    assert spike_score(steps, values, attempts=(200.0,)).points == 0


def test_zclip_by_hand() -> None:
    # Warm-up: 24 values alternating 1, 3 and one 2 -> mean 2, variance 24/25 = 0.96, std 0.979796.
    # 100: z = 98 / 0.979797 = 100.02 > 2.5, a spike; ZClip feeds mean + 2.5^2 std / z = 2.061225
    #   into the averages: mean 0.97 * 2 + 0.03 * 2.061225 = 2.001837,
    #   var 0.97 * 0.96 + 0.03 * (2.061225 - 2.001837)^2 = 0.931306, std 0.965042.
    # 4.6: z = (4.6 - 2.001837) / 0.965043 = 2.692 > 2.5: a spike too. Had the raw 100 been fed
    #   (no clipping), the std would be 16.5 and 4.6 would pass unnoticed.
    norms = np.array([1.0, 3.0] * 12 + [2.0, 100.0, 4.6, 2.0])
    assert np.flatnonzero(zclip_flags(norms)).tolist() == [25, 26]


def test_grad_bursts_lead_loss_spikes_and_hidden_ones_are_counted() -> None:
    steps = np.arange(0, 1000, 10.0)
    flags = np.zeros(steps.size, bool)
    flags[[20, 21, 50, 80]] = True  # bursts at 200-210, 500, 800
    grad = episodes(steps, flags)
    assert grad == [(200.0, 210.0), (500.0, 500.0), (800.0, 800.0)]
    leads = lead_times(grad, [(230.0, 240.0), (700.0, 700.0)], spacing=10.0)
    # 230: the burst 200-210 ended 20 steps (2 points, within 3) before: a lead of 30 steps.
    # 700: no burst under way (the one at 500 ended 20 points before). The burst at 500 was
    # followed by the loss spike at 700 (within 32 points), the one at 800 by none: 1 hidden.
    assert leads.leads == (30.0,) and leads.unexplained == 1 and leads.hidden == 1


def test_loss_episodes_recover_within_1_1x() -> None:
    values = np.array(BASE + [1.0, 3.0] * 20 + [12.0, 8.0, 4.0, 2.1, 3.0, 1.0] + [1.0, 3.0] * 10)
    found = loss_episodes(np.arange(values.size, dtype=float), values)
    assert len(found) == 1
    e = found[0]
    # base 2 (the window's mean): back at <= max(1.1 * 2, 2 + 2 * std 1) = 4, i.e. the 4.0 at 170
    assert (e.onset, e.peak_step, e.peak, e.recovered, e.before) == (168.0, 168.0, 12.0, 170.0, 167.0)
    stuck = np.concatenate([values[:168], np.full(30, 9.0)])
    assert loss_episodes(np.arange(stuck.size, dtype=float), stuck)[0].recovered is None


def test_scale_drops_and_skip_shares() -> None:
    drops = scale_drops(np.arange(6.0), np.array([65536, 65536, 32768, 32768, 40000, 8192.0]))
    assert (drops.count, drops.steps, drops.lowest, drops.last) == (2, (2.0, 5.0), 8192.0, 8192.0)
    # Megatron, every 10 iterations: 3 lines fully skipped (calibration), then 2, then 1 in 1,000.
    steps = np.arange(10, 2001, 10.0)
    counts = np.zeros(steps.size)
    counts[:3], counts[3], counts[99] = 10, 2, 1
    k = skipped_steps(steps, counts)
    assert (k.calibration, k.skipped, k.attempted, k.since) == (30.0, 3.0, 1970.0, None)
    # fairseq: skips are not counted in num_updates: 2 overflows over 10 updates -> 2 of 12.
    fs = skipped_steps(np.arange(1, 11.0), np.array([0, 0, 2, 0, 0, 0, 0, 0, 0, 0.0]), inside_steps=False)
    assert fs.share == pytest.approx(2 / 12)
    stuck = skipped_steps(steps, np.where(steps >= 600, 10.0, 0.0))
    assert stuck.tail_share == 1.0 and stuck.since == 600.0


def test_running_sums_agree_with_two_pass_on_flat_and_trending_stretches() -> None:
    # The fast path (running sums per chunk) must give the two-pass answer everywhere: on a
    # steep trend, on a flat stretch logged to 4 digits after a noisy one (std 0 exactly in
    # two passes, a rounding residue in running sums), and around the spikes.
    rng = np.random.default_rng(5)
    noisy = 1000 * np.exp(-np.arange(3000) / 200) + rng.normal(0, 1, 3000)
    flat = np.concatenate([np.full(300, 0.0001), [0.0002], np.full(200, 0.0001)])
    values = np.concatenate([noisy, flat, rng.normal(5, 1, 400)])
    assert spike_flags(values).tolist() == olmo_port(values.tolist())


def test_a_long_flat_stretch_is_judged_in_blocks_with_the_two_pass_answer() -> None:
    # Every point of a flat stretch is re-judged two-pass (its running-sum std is a residue);
    # 20,000 of them span three blocks of the vectorised recheck. A step off the flat at a
    # block's edge has a constant window (std 0: no spike, by OLMo's definition); a jump in
    # the noise after the stretch is one; both come out as the callback loop finds them.
    rng = np.random.default_rng(8)
    values = np.concatenate([rng.normal(2, 0.1, 500), np.full(20_000, 2.0), rng.normal(2, 0.1, 300)])
    values[500 + 8192 + 128] = 2.5
    values[20_650] = 9.0
    flags = spike_flags(values)
    assert flags.tolist() == olmo_port(values.tolist())
    assert not flags[500 + 8192 + 128] and flags[20_650]


def test_a_spike_on_an_epoch_axis_is_reported_without_a_step_score() -> None:
    """A spiked loss logged per epoch has a spike count but no score over steps (spike_any is
    None): the report said nothing about it and crashed (found by benchmarks/fuzz.py on a
    YOLOv5 results.csv whose bytes were cut)."""
    import io

    from lossdoctor.diagnose import Settings, diagnose_run
    from lossdoctor.frame import Run, Series
    from lossdoctor.report.formats import FORMATS
    from lossdoctor.report.options import DEFAULT_OPTIONS

    epochs = np.arange(300, dtype=np.float64)
    loss = 1.0 + 0.01 * np.sin(epochs)
    loss[281] = 50.0
    run = Run("p", "csv", {"train/box_loss": Series("train/box_loss", epochs, loss, axis="epoch")})
    diag = diagnose_run(run, Settings.default())
    assert diag.stability.spike_any is None and diag.stability.spike_loss.points == 1
    for name in ("plain", "rich"):
        out = io.StringIO()
        FORMATS[name].diagnose([diag], out, DEFAULT_OPTIONS)
        assert "spikes (OLMo" in out.getvalue()
