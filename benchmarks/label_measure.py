"""The numbers labels are decided from, measured without lossdoctor.

Labels must say what a run *is*, so they are never derived from what the tool prints:
this module reads the logs with its own small readers (pandas, json, tensorboard's event
reader) and measures the curves with the definitions of the development set's README
(the project's reference for labeled sets):

- `nan_step`: the first non-finite loss point; `nan_first_visible_in_log_step` where the
  train-loss series (or, for the HF Trainer, a logged 0.0 loss / NaN grad_norm / NaN
  eval_loss) shows it later.
- `divergence_window`: [last train-loss minimum before the blow-up, first point >10x that
  minimum or non-finite]; the blow-up starts where the loss leaves 2x its running minimum
  for good.
- `spike_window`: [first point >2x the pre-fault baseline (median of the 80 steps before
  the fault), first point whose centred 5-point rolling median is back at or below
  max(2x baseline, the max of those 80 steps)].
- `early_stopping_window`: the first and last evaluation within 2% of the val minimum.

label_checks.py applies the README's label checks to these numbers. Used by
label_generated.py and label_corpus.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Curves:
    """The series of one run by role: (x, values) pairs in the file's own x-axis."""

    fmt: str
    series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # role -> column/tag in the file

    def get(self, role: str) -> tuple[np.ndarray, np.ndarray] | None:
        return self.series.get(role)

    def put(self, role: str, name: str, x, v) -> None:
        x, v = np.asarray(x, float), np.asarray(v, float)
        if x.size:
            self.series[role], self.names[role] = (x, v), name


# ---- readers of the four writers of benchmarks/run_writers.py ----------------------------

def read_keras_csv(folder: Path) -> Curves:
    import pandas as pd

    df = pd.read_csv(folder / "training_log.csv", na_values=["NA"])
    c = Curves("keras_csv")
    for role, col in (("train_loss", "loss"), ("val_loss", "val_loss"),
                      ("train_acc", "accuracy"), ("val_acc", "val_accuracy")):
        if col in df:
            c.put(role, col, df["epoch"], df[col])
    return c


def read_lightning_csv(folder: Path) -> Curves:
    import pandas as pd

    # Text first: an empty cell is "not logged in this row", the text 'nan' a logged NaN.
    df = pd.read_csv(folder / "metrics.csv", dtype=str, keep_default_na=False)
    c = Curves("lightning_csv")
    for role, col in (("train_loss", "train_loss_step"), ("train_loss_epoch", "train_loss_epoch"),
                      ("val_loss", "val_loss"), ("val_acc", "val_acc"), ("lr", "lr-Adam")):
        if col in df:
            rows = df[df[col] != ""]
            c.put(role, col, rows["step"].astype(float), rows[col].astype(float))
    return c


def read_hf_state(folder: Path) -> Curves:
    hist = json.loads((folder / "trainer_state.json").read_text())["log_history"]
    c = Curves("hf_trainer_state")
    for role, key in (("train_loss", "loss"), ("val_loss", "eval_loss"),
                      ("grad_norm", "grad_norm"), ("lr", "learning_rate")):
        pts = [(r["step"], r[key]) for r in hist if key in r and "train_runtime" not in r]
        if pts:
            c.put(role, key, [p[0] for p in pts], [np.nan if p[1] is None else p[1] for p in pts])
    return c


def read_tensorboard(folder: Path) -> Curves:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    c = Curves("tensorboard")
    tags = set(acc.Tags().get("scalars", []))
    for role, tag in (("train_loss", "train/loss"), ("val_loss", "val/loss"),
                      ("val_acc", "val/accuracy"), ("lr", "train/lr")):
        if tag in tags:
            ev = acc.Scalars(tag)
            c.put(role, tag, [e.step for e in ev], [e.value for e in ev])
    return c


READERS = {"keras": read_keras_csv, "lightning": read_lightning_csv, "hf": read_hf_state,
           "tb": read_tensorboard}


def writer_of(run_name: str) -> str:
    """make_runs.py names a run `<recipe>_<writer>_s<seed>`."""
    return run_name.rsplit("_", 2)[-2]


# ---- measurements -------------------------------------------------------------------------

def first_nonfinite(s: tuple[np.ndarray, np.ndarray] | None) -> float | None:
    if s is None:
        return None
    bad = np.flatnonzero(~np.isfinite(s[1]))
    return float(s[0][bad[0]]) if bad.size else None


def hidden_nan_step(c: Curves) -> tuple[float | None, float | None]:
    """(earliest step the NaN can have happened, first step the log shows it) for the HF
    Trainer, whose NaN filter logs a finite loss for a window holding a NaN step loss and
    0.0 for a window of NaN step losses. None when the log shows neither a 0.0 loss nor a
    NaN eval loss (then the weights never went NaN).

    Once the weights are NaN every later step loss is NaN, so the NaN began right after the
    last logged step that is finite beyond doubt (finite grad_norm and a non-zero loss)."""
    tr, gn, va = c.get("train_loss"), c.get("grad_norm"), c.get("val_loss")
    zeros = tr[0][tr[1] == 0.0] if tr is not None else np.array([])
    if not zeros.size and first_nonfinite(va) is None:
        return None, None  # the weights never went NaN (a skipped fp16 step only shows in grad_norm)
    seen = [float(zeros[0])] if zeros.size else []
    for s in (gn, va, tr):
        f = first_nonfinite(s)
        if f is not None:
            seen.append(f)
    if not seen:
        return None, None
    visible = min(seen)
    ok = tr[0] < visible
    if gn is not None:
        fine = {x for x, v in zip(*gn) if np.isfinite(v)}
        ok &= np.array([x in fine for x in tr[0]])
    ok &= np.isfinite(tr[1]) & (tr[1] != 0.0)
    last_fine = float(tr[0][ok].max()) if ok.any() else 0.0
    return last_fine + 1, visible


def _head_tail(vf: np.ndarray) -> tuple[int, int]:
    n = len(vf)
    return max(1, min(3, n // 10 or 1)), max(1, n // 10)


def measure(c: Curves, nan_cut: float | None = None) -> dict:
    """The numbers of one run (the devset's measured block, computed by our own code).

    `nan_cut`: the step from which the train loss is NaN although the log shows a finite
    or 0.0 value (the HF filter); points from there on count as non-finite."""
    m: dict = {}
    tr, va = c.get("train_loss"), c.get("val_loss")
    m["n_train_points"] = len(tr[0]) if tr else 0
    m["n_val_points"] = len(va[0]) if va else 0
    for role in ("train_loss", "train_loss_epoch", "val_loss", "grad_norm"):
        f = first_nonfinite(c.get(role))
        if f is not None:
            m[f"first_nonfinite_{role}_step"] = f
    st, v = tr
    keep = np.isfinite(v) if nan_cut is None else np.isfinite(v) & (st < nan_cut)
    sf, vf = st[keep], v[keep]
    _train_levels(m, vf)
    _train_roughness(m, vf)
    if va is not None:
        _val_numbers(m, c, va, sf, vf)
    for role in ("val_acc", "train_acc"):
        s = c.get(role)
        if s is not None and np.isfinite(s[1]).any():
            a = s[1][np.isfinite(s[1])]
            m[f"{role}_first"], m[f"{role}_final"], m[f"{role}_max"] = float(a[0]), float(a[-1]), float(a.max())
    if c.get("lr") is not None:
        lr = c.get("lr")[1]
        m["lr_first"], m["lr_max"], m["lr_last"] = float(lr[0]), float(np.nanmax(lr)), float(lr[-1])
    _divergence(m, c, st, v, sf, vf, nan_cut)
    if va is not None and c.fmt != "keras_csv":  # keras logs epoch means already
        _epoch_level(m, c, sf, vf)
    _climb(m, st, v, nan_cut)
    return m


def _epoch_level(m: dict, c: Curves, sf: np.ndarray, vf: np.ndarray) -> None:
    """The last-half change of the train loss at the evaluation time scale (epoch means)."""
    ev = epoch_means(c, sf, vf)[1]
    if len(ev) >= 6:
        k1, h = max(1, len(ev) // 10), len(ev) // 2
        m["train_epoch_rel_change_last_half"] = float(1 - np.median(ev[-k1:]) / np.median(ev[h:h + k1]))


def _climb(m: dict, st: np.ndarray, v: np.ndarray, nan_cut: float | None) -> None:
    """How far the finite train loss climbed before the first non-finite loss point."""
    keys = ("train_loss", "train_loss_epoch", "val_loss")
    nf = [m[f"first_nonfinite_{r}_step"] for r in keys if f"first_nonfinite_{r}_step" in m]
    nf += [nan_cut] if nan_cut is not None else []
    if nf:
        climb = climb_before_nonfinite(st, v if nan_cut is None else np.where(st >= nan_cut, np.nan, v), min(nf))
        if climb is not None:
            m["train_climb_before_nonfinite"] = climb


def _train_levels(m: dict, vf: np.ndarray) -> None:
    n = len(vf)
    if not n:
        return
    k0, k1 = _head_tail(vf)
    m["train_first"] = float(np.mean(vf[:k0]))
    m["train_last"] = float(np.median(vf[-k1:]))
    m["train_min"], m["train_max_finite"] = float(vf.min()), float(vf.max())
    if m["train_first"]:
        m["train_rel_drop"] = 1 - m["train_last"] / m["train_first"]
    if n >= 6 and np.median(vf[n // 2:]) > 0:
        h, q = n // 2, n // 4
        m["train_rel_change_last_half"] = float(1 - np.median(vf[-k1:]) / np.median(vf[h:h + k1]))
        m["train_rel_change_last_quarter"] = float(1 - np.median(vf[-k1:]) / np.median(vf[n - q - k1:n - q]))


def _train_roughness(m: dict, vf: np.ndarray) -> None:
    """Second-half step-to-step movement of the train loss, relative to its level."""
    if len(vf) < 8:
        return
    seg = vf[len(vf) // 2:]
    d = np.diff(seg)
    m["train_2nd_half_median_abs_step_rel"] = float(np.median(np.abs(d)) / (np.median(np.abs(seg)) + 1e-12))
    m["train_2nd_half_frac_up"] = float(np.mean(d > 0))


def _val_numbers(m: dict, c: Curves, va, sf: np.ndarray, vf: np.ndarray) -> None:
    vs_, vv_ = va
    fin = np.isfinite(vv_)
    if not fin.any():
        return
    vs, vv = vs_[fin], vv_[fin]
    i = int(np.argmin(vv))
    m.update(val_first=float(vv[0]), val_min=float(vv[i]), val_argmin_step=float(vs[i]),
             val_final=float(vv[-1]), val_argmin_frac=i / max(1, len(vv) - 1),
             val_rel_rise_from_min=float(vv[-1] / vv[i] - 1) if vv[i] > 0 else None)
    if len(vv) >= 4:
        dv = np.diff(vv)
        m["val_frac_up_moves"] = float(np.mean(dv > 0))
        m["val_median_abs_rel_change"] = float(np.median(np.abs(dv) / np.maximum(np.abs(vv[:-1]), 1e-12)))
    if len(vv) >= 6:
        h = len(vv) // 2
        m["val_rel_change_last_half"] = float(1 - vv[-1] / vv[h]) if vv[h] else None
    near = fin & (vv_ <= 1.02 * m["val_min"])
    m["val_within_2pct_of_min_steps"] = [float(vs_[near].min()), float(vs_[near].max())]
    pairs = _train_val_pairs(c, vs, vv, sf, vf)
    if len(pairs) > 2:
        pairs = pairs[1:]  # the first evaluation follows a partly untrained epoch
    if pairs:
        ratio = np.array([a / b for a, b in pairs if b > 0])
        m["frac_train_above_val"] = float(np.mean([a > b for a, b in pairs]))
        if ratio.size:
            m["median_train_over_val"] = float(np.median(ratio))
        j = int(np.argmin([b for _, b in pairs]))
        m["train_at_val_min"], m["train_at_end"] = float(pairs[j][0]), float(pairs[-1][0])


def _train_val_pairs(c: Curves, vs, vv, sf, vf) -> list[tuple[float, float]]:
    """(epoch-level train loss, val loss) at each evaluation: the logged epoch mean where
    there is one, else the mean of the train points since the previous evaluation."""
    te = c.get("train_loss_epoch")
    if te is not None:
        at = dict(zip(te[0].tolist(), te[1].tolist()))
        return [(at[s], x) for s, x in zip(vs.tolist(), vv) if s in at and np.isfinite(at[s])]
    pairs, lo = [], -np.inf
    for s, x in zip(vs, vv):
        sel = (sf > lo) & (sf <= s)
        if sel.any():
            pairs.append((float(np.mean(vf[sel])), float(x)))
        lo = s
    return pairs


def _divergence(m: dict, c: Curves, st, v, sf, vf, nan_cut) -> None:
    """Where the train loss leaves 2x its running minimum for good (non-finite counts as
    +inf, never as missing), and the devset's window around it.

    A step series holding exact zeros (a half-precision loss rounds confident batches to
    0) never stays above 2x a running minimum of 0; the onset is then found on the epoch
    means and the window read on the step series before that epoch."""
    w = np.where(np.isfinite(v), v, np.inf)
    if nan_cut is not None:
        w = np.where(st >= nan_cut, np.inf, w)
    if not len(vf):
        return
    scale = abs(m["train_first"])
    before_limit = None
    if np.any(vf == 0.0):
        ex, ew = epoch_means(c, st, w)
        i = _onset(ew, scale)
        if i is None:
            return
        m["divergence_onset_step"] = float(ex[i])
        m["divergence_onset_on"] = "epoch means (the step series holds exact zeros)"
        before_limit = float(ex[i - 1]) if i > 0 else -np.inf
    else:
        i = _onset(w, scale)
        if i is None:
            return
        m["divergence_onset_step"] = float(st[i])
    before = sf < m["divergence_onset_step"] if before_limit is None else sf <= before_limit
    if not before.any():
        return
    j = int(np.argmin(vf[before]))
    lo, base = float(sf[before][j]), float(vf[before][j])
    m["train_argmin_before_divergence_step"] = lo
    big = np.flatnonzero((~np.isfinite(w) | (w > 10 * base)) & (st >= lo))
    if big.size:
        m["train_first_10x_or_nonfinite_step"] = float(st[big[0]])


def _onset(w: np.ndarray, scale: float) -> int | None:
    """First index from which every later value is >2x the running minimum (and above it
    by 10% of the initial level)."""
    runmin = np.minimum.accumulate(w)
    tail_min = np.minimum.accumulate(w[::-1])[::-1]  # min of w[i:]
    hit = np.flatnonzero((tail_min > 2 * runmin) & (tail_min > runmin + 0.1 * scale))
    return int(hit[0]) if hit.size else None


def epoch_means(c: Curves, st: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Epoch-level train loss: the logged epoch mean, else the mean of the step points
    between evaluations (non-finite as +inf)."""
    te = c.get("train_loss_epoch")
    if te is not None:
        return te[0], np.where(np.isfinite(te[1]), te[1], np.inf)
    xs, means, lo = [], [], -np.inf
    for s in c.get("val_loss")[0]:
        sel = (st > lo) & (st <= s)
        if sel.any():
            xs.append(s)
            means.append(float(np.mean(w[sel])))
        lo = s
    return np.array(xs), np.array(means)


def climb_before_nonfinite(st: np.ndarray, v: np.ndarray, nan_at: float) -> float | None:
    """How far the finite loss rose just before it turned non-finite: the max of the last
    fifth of the finite points before `nan_at` over the median of the points before those."""
    vb = v[np.isfinite(v) & (st < nan_at)]
    if len(vb) < 5:
        return None
    k = max(2, len(vb) // 5)
    head = np.median(vb[:-k])
    return float(np.max(vb[-k:]) / head) if head > 0 else None


def rolling_median(v: np.ndarray, width: int) -> np.ndarray:
    """Centred rolling median, truncated at the edges."""
    h = width // 2
    return np.array([np.median(v[max(0, i - h):i + h + 1]) for i in range(len(v))])


def measure_spike(m: dict, c: Curves, fault_step: float, span: float = 80) -> None:
    """Baseline, peak and recovery around a known fault step (the devset's spike numbers)."""
    st, v = c.get("train_loss")
    fin = np.isfinite(v)
    sf, vf = st[fin], v[fin]
    pre = (sf < fault_step) & (sf >= fault_step - span)
    post = np.flatnonzero((sf >= fault_step) & (sf < fault_step + span))
    base, env = float(np.median(vf[pre])), float(np.max(vf[pre]))
    k = post[int(np.argmax(vf[post]))]
    m.update(spike_fault_step=float(fault_step), spike_base=base, spike_pre_window_max=env,
             spike_peak=float(vf[k]), spike_peak_step=float(sf[k]), spike_peak_ratio=float(vf[k] / base))
    above = post[vf[post] > 2 * base]
    if above.size:
        m["spike_onset_step"] = float(sf[above[0]])
    level = max(2 * base, env)
    m["spike_recovery_level"] = level
    back = np.flatnonzero((rolling_median(vf, 5) <= level) & (np.arange(len(vf)) > k))
    if back.size:
        m["spike_recovered_step"] = float(sf[back[0]])


# ---- key steps --------------------------------------------------------------------------

def key_steps(m: dict, expected: list[str]) -> dict:
    """The devset's key_steps for the expected labels, from the measured numbers."""
    ks: dict = {}
    if "nan_loss" in expected:
        _nan_steps(ks, m)
    if "divergence" in expected and "divergence_onset_step" in m:
        lo = m.get("train_argmin_before_divergence_step", m["divergence_onset_step"])
        hi = m.get("train_first_10x_or_nonfinite_step", m["divergence_onset_step"])
        if m.get("hidden_nan_step") is not None:
            hi = min(hi, m["hidden_nan_step"])
        ks["divergence_window"] = [_int(lo), _int(max(lo, hi))]
    if "loss_spike" in expected and "spike_peak_step" in m:
        lo = min(m.get("spike_onset_step", m["spike_peak_step"]), m["spike_peak_step"])
        hi = max(m.get("spike_recovered_step", m["spike_peak_step"]), m["spike_peak_step"])
        ks["spike_window"] = [_int(lo), _int(hi)]
    if "overfitting" in expected and "val_within_2pct_of_min_steps" in m:
        ks["early_stopping_window"] = [_int(x) for x in m["val_within_2pct_of_min_steps"]]
    return ks


def _nan_steps(ks: dict, m: dict) -> None:
    if m.get("hidden_nan_step") is not None:
        ks["nan_step"] = _int(m["hidden_nan_step"])
        ks["nan_first_visible_in_log_step"] = _int(m["hidden_nan_visible_step"])
        return
    losses = [m.get(f"first_nonfinite_{r}_step") for r in ("train_loss", "train_loss_epoch", "val_loss")]
    losses = [x for x in losses if x is not None]
    if not losses:  # only a gradient norm is non-finite: that is the first non-finite value
        losses = [m["first_nonfinite_grad_norm_step"]]
    ks["nan_step"] = _int(min(losses))
    t = m.get("first_nonfinite_train_loss_step")
    if t is not None and t > ks["nan_step"]:
        ks["nan_first_visible_in_log_step"] = _int(t)


def _int(x: float) -> int | float:
    return int(x) if float(x).is_integer() else float(x)
