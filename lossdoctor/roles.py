"""Which series plays which role: train/val loss, accuracy, learning rate, gradient norm.

Names are normalised (CamelCase split, separators folded to `_`) and read as tokens:
a *split* token (train / val / test) and a *kind* token (loss / acc / lr / grad_norm).
No split token means train (Keras' `loss`). The alias table below is the documented
contract; `--metric ROLE=NAME` overrides it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .frame import Run, Series

ROLE_NAMES = ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "grad_norm", "loss_scale", "skipped_steps")

SPLIT_TOKENS = {
    "train": {"train", "training", "trn"},
    "val": {"val", "valid", "validation", "eval", "evaluation", "dev"},
    "test": {"test"},
}
IGNORED_TOKENS = {"predict", "prediction", "hp"}  # HF predict_* entries, Lightning hp_metric
AXIS_TOKENS = {"step", "epoch"}  # Lightning's *_step / *_epoch twins, Keras' epoch_loss
REGRESSION_ERRORS = {"mae", "mse", "rmse"}
ERROR_KINDS = REGRESSION_ERRORS | {"error", "err"}  # loss-like when no '*loss' exists
# Words that name a regression or reconstruction objective: such a loss is no cross-entropy,
# so its value says nothing of a class count (an MSE that starts at 1.1 is not ln 3).
REGRESSION_TOKENS = REGRESSION_ERRORS | {"l1", "l2", "huber", "recon", "reconstruction", "regression"}
PRIMARY_HINTS = ("total", "mean", "avg", "average", "overall", "top1")
SKIP_UNITS = {"iterations", "iters", "steps", "updates", "batches"}


def tokens_of(name: str) -> list[str]:
    """`Loss/val` -> [loss, val]; `TrainLoss` -> [train, loss]; `lr-Adam` -> [lr, adam]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def names_regression(name: str) -> bool:
    """The series name says it is a regression or reconstruction loss (`val_recon_loss`, `mse/train`)."""
    return bool(REGRESSION_TOKENS & set(tokens_of(name)))


@dataclass(frozen=True)
class Metric:
    """A series name read as split + kind + base (the name without split and axis tokens)."""

    name: str
    split: str
    kind: str
    base: tuple[str, ...]


@lru_cache(maxsize=4096)  # the same few names come back run after run in an audit
def classify(name: str) -> Metric | None:
    """Read a metric name; None for names that are no role's business."""
    toks = tokens_of(name)
    if not toks or IGNORED_TOKENS & set(toks):
        return None
    # Ultralytics writes its validation metrics as `metrics/...` (mAP, accuracy_top1) with no split word.
    default = "val" if toks[0] == "metrics" and name.strip().lower().startswith("metrics/") else "train"
    split = next((s for s, words in SPLIT_TOKENS.items() if words & set(toks)), default)
    base = tuple(t for t in toks if t not in SPLIT_TOKENS[split] and t not in AXIS_TOKENS)
    return Metric(name, split, _kind(toks), base)


def _kind(toks: list[str]) -> str:
    # `loss scale` (fp16 AMP: Megatron, fairseq `loss_scale`) is a scale, not a loss.
    if _follows(toks, "loss", "scale") or _follows(toks, "scaler", "scale"):  # fp16 loss scaling
        return "loss_scale"
    if "skipped" in toks and SKIP_UNITS & set(toks):  # Megatron's `number of skipped iterations`
        return "skipped"
    if any((t == "loss" or t.endswith("loss")) and toks[i + 1 : i + 2] != ["scale"] for i, t in enumerate(toks)):
        return "loss"
    if ("grad" in toks and "norm" in toks) or "gradnorm" in toks or "gnorm" in toks:  # fairseq: gnorm
        return "grad_norm"
    if any(re.fullmatch(r"lr\d*", t) for t in toks) or ("learning" in toks and "rate" in toks):
        return "lr"
    if any(t.startswith("acc") for t in toks) or "accuracy" in toks:
        return "acc"
    if ERROR_KINDS & set(toks):
        return "error"
    return "other"


def skips_inside_steps(name: str) -> bool:
    """Does a skip counter count steps that its log's step counter also counts? Megatron's
    `number of skipped iterations` does (a skipped iteration still advances `iteration`);
    fairseq's skipped updates do not (an overflow leaves `num_updates` as it was)."""
    return "updates" not in tokens_of(name)


def _follows(toks: list[str], first: str, second: str) -> bool:
    return any(t == first and toks[i + 1 : i + 2] == [second] for i, t in enumerate(toks))


@dataclass
class Roles:
    """The resolved roles of a run, plus every train/val loss pair and every loss series.

    `pairs[0]` is the main pair. When a log has several loss terms and no total (YOLO's
    box/cls/dfl), the main pair is their sum, kept in `derived`.
    """

    by_role: dict[str, str] = field(default_factory=dict)
    pairs: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)
    derived: dict[str, Series] = field(default_factory=dict)
    producer: str | None = None
    notes: list[str] = field(default_factory=list)


def resolve(run: Run, overrides: dict[str, str] | None = None) -> Roles:
    """Assign roles by the alias rules, then apply explicit overrides (which win)."""
    roles = Roles()
    usable = {n: s for n, s in run.series.items() if not _all_zero(s, roles)}
    metrics = [m for m in (classify(n) for n in usable) if m is not None]
    losses = _loss_metrics(metrics)
    roles.losses = [m.name for m in losses]
    val_split = "val" if any(m.split == "val" for m in losses) else "test"
    train = _primary([m for m in losses if m.split == "train"], usable)
    val = _primary([m for m in losses if m.split == val_split], usable)
    _set(roles, "train_loss", train)
    _set(roles, "val_loss", val)
    for role, kind, split in (("train_acc", "acc", "train"), ("val_acc", "acc", val_split),
                              ("lr", "lr", None), ("grad_norm", "grad_norm", None),
                              ("loss_scale", "loss_scale", None), ("skipped_steps", "skipped", None)):
        cands = [m for m in metrics if m.kind == kind and (split is None or m.split == split)]
        _set(roles, role, _primary(cands, usable))
    for role, name in (overrides or {}).items():
        roles.by_role[role] = name
        if role.endswith("_loss") and name not in roles.losses:
            roles.losses.append(name)
    roles.pairs = _pairs(losses, val_split, roles)
    if roles.pairs and roles.pairs[0][0] != "loss":
        _add_total(roles, usable)
    roles.producer = producer_of(run.series)
    return roles


def needed(overrides: dict[str, str] | None = None) -> Callable[[str], bool]:
    """Which series names a diagnosis can use: those this table gives a role (losses, error
    metrics, accuracies, learning rate, gradient norm), those naming a producer, and the
    overrides. Readers of big logs decode only these."""
    named = set((overrides or {}).values())

    def wanted(name: str) -> bool:
        metric = classify(name)
        return (name in named or (metric is not None and metric.kind != "other")
                or any(p.search(name.strip()) for p in PRODUCERS.values()))
    return wanted


# Naming conventions that identify the tool that wrote a log, where it matters for reading
# the curves (e.g. Ultralytics computes train losses on augmented mosaics, val on clean images).
PRODUCERS = {
    "ultralytics": re.compile(r"^(train|val)/(box|cls|dfl|obj)_loss$|^metrics/mAP"),
    "detectron2": re.compile(r"^(loss_rpn_cls|loss_box_reg|fast_rcnn/)"),
}


def producer_of(names: object) -> str | None:
    """The tool whose naming conventions the metric names follow, if one is recognised."""
    for tool, pattern in PRODUCERS.items():
        if any(pattern.search(str(n).strip()) for n in names):  # type: ignore[attr-defined]
            return tool
    return None


def _add_total(roles: Roles, series: dict[str, Series]) -> None:
    """Sum the loss terms of each split into a main pair when they share one step grid."""
    totals = []
    for col in (1, 2):
        names = [p[col] for p in roles.pairs if p[col]]
        total = _sum_on_grid([series[n] for n in names])
        name = None
        if total is not None:
            split = "train" if col == 1 else "val"
            name = f"{split} total ({' + '.join(names)})"
            first = series[names[0]]  # the terms share its steps: as spread, and as logged
            roles.derived[name] = Series(name, total[0], total[1], first.axis, logged=first.logged)
        totals.append(name)
    if totals[0] or totals[1]:
        roles.pairs.insert(0, ("total", totals[0], totals[1]))
        roles.notes.append("no total loss logged: the main curves are the sum of the loss terms")


def _sum_on_grid(parts: list[Series]) -> tuple[np.ndarray, np.ndarray] | None:
    if len(parts) < 2 or any(p.steps.shape != parts[0].steps.shape for p in parts):
        return None
    if any(not np.array_equal(p.steps, parts[0].steps) for p in parts[1:]):
        return None
    # Terms near the float limit sum to Inf: that is a finding, not a numpy warning on the terminal.
    with np.errstate(over="ignore", invalid="ignore"):
        return parts[0].steps, np.sum([p.values for p in parts], axis=0)


def _all_zero(series: Series, roles: Roles) -> bool:
    """A loss term that is 0 at every step is switched off (YOLO cls loss with one class); a
    count of skipped steps that stays 0 is a reading (nothing was skipped)."""
    v = series.values
    metric = classify(series.name)
    if v.size and np.all(v == 0) and not (metric is not None and metric.kind == "skipped"):
        roles.notes.append(f"{series.name}: 0 at every point (a switched-off term); not diagnosed")
        return True
    return False


def _loss_metrics(metrics: list[Metric]) -> list[Metric]:
    """Series named *loss*; error metrics (mae, mse) count only in a split with no *loss*."""
    out = [m for m in metrics if m.kind == "loss"]
    have = {m.split for m in out}
    return out + [m for m in metrics if m.kind == "error" and m.split not in have]


def _primary(cands: list[Metric], series: dict[str, Series]) -> Metric | None:
    """The main series among candidates: plain `loss`, then total/mean, then a lone one."""
    if not cands:
        return None

    def rank(m: Metric) -> tuple[int, int]:
        plain = m.base in (("loss",), ("acc",), ("accuracy",), ("lr",), ("grad", "norm"), ("loss", "scale"))
        hinted = any(h in m.base for h in PRIMARY_HINTS)
        tier = 0 if plain else 1 if hinted else 2
        return tier, -len(series[m.name])

    best = min(cands, key=rank)
    if rank(best)[0] == 2 and len({m.base for m in cands}) > 1:
        return None  # several unrelated components and no total: no single primary
    return best


def _set(roles: Roles, role: str, metric: Metric | None) -> None:
    if metric is not None:
        roles.by_role[role] = metric.name


def _pairs(losses: list[Metric], val_split: str, roles: Roles) -> list[tuple[str, str | None, str | None]]:
    """(label, train name, val name): the primary pair first, then components by base name."""
    train_name = roles.by_role.get("train_loss")
    val_name = roles.by_role.get("val_loss")
    pairs: list[tuple[str, str | None, str | None]] = []
    if train_name or val_name:
        pairs.append(("loss", train_name, val_name))
    used = {train_name, val_name}
    trains = {m.base: m.name for m in losses if m.split == "train" and m.name not in used}
    vals = {m.base: m.name for m in losses if m.split == val_split and m.name not in used}
    for base in sorted(set(trains) & set(vals)):
        pairs.append(("_".join(base), trains[base], vals[base]))
    if not pairs:
        # No primary and no matched pairs: diagnose each train component on its own.
        pairs = [("_".join(b), n, None) for b, n in sorted(trains.items())]
    return pairs
