"""Generate the labeled set benchmarks/sets/generated/: small networks really trained on
the CPU, some with a real fault injected, logged through real writers' formats.

    .venv/bin/pip install torch==2.13.0 scikit-learn   # for this generator only
    .venv/bin/python benchmarks/make_runs.py            # ~ a few minutes on 2 cores
    .venv/bin/python benchmarks/make_runs.py plateau_   # only runs whose name holds a fragment

Each recipe names a data set (scikit-learn's bundled ones, or synthetic), a model, the
optimiser settings, the fault, and the log format. Seeds are fixed, so the output is
deterministic on one machine. The generator writes `labels.provisional.yaml` with what
each run was *meant* to show; `labels.yaml` is the checked version (written by hand
after reading every run's numbers: a fault does not always show in the logs).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_writers import WRITERS  # noqa: E402

OUT = Path(__file__).resolve().parent / "sets" / "generated"
torch.set_num_threads(1)  # tiny models: one thread each is faster than two fighting


@dataclass
class Recipe:
    """One run: data, model, optimiser, fault, log format and the intended finding."""

    name: str
    data: str
    model: str
    fmt: str
    intent: list[str]
    seed: int = 0
    lr: float = 1e-3
    epochs: int = 20
    batch: int = 32
    opt: str = "adam"
    every: int = 10                 # log every N optimiser steps (per-step formats)
    fault: dict = field(default_factory=dict)


# ---- data -----------------------------------------------------------------------------

def load_data(name: str, seed: int) -> tuple[tuple, tuple, str]:
    """((x_train, y_train), (x_val, y_val), task) as float/long tensors, standardised."""
    from sklearn import datasets

    rng = np.random.default_rng(seed)
    if name == "seq":
        return _sequence_task(rng)
    if name == "checker":
        x = rng.uniform(-1, 1, (1200, 2))
        y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(int)
        task = "cls"
    elif name in SYNTHETIC_REG:
        x, y = SYNTHETIC_REG[name](rng)
        task = "reg"
    else:
        base = name.split("_")[0]
        loader = {"digits": datasets.load_digits, "wine": datasets.load_wine,
                  "cancer": datasets.load_breast_cancer, "diabetes": datasets.load_diabetes,
                  "iris": datasets.load_iris}[base]
        x, y = loader(return_X_y=True)
        task = "reg" if base == "diabetes" else "cls"
    idx = rng.permutation(len(x))
    x, y = x[idx], y[idx]
    cut = int(len(x) * 0.75)
    std = x[:cut].std(0)
    x = (x - x[:cut].mean(0)) / np.where(std > 0, std, 1.0)  # digits has all-zero pixels
    if task == "reg" and not name.endswith("_raw"):
        y = (y - y[:cut].mean()) / y[:cut].std()  # the unscaled variant keeps raw targets
    return _tensors(x[:cut], y[:cut], task), _tensors(x[cut:], y[cut:], task), task


def _linear_target(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A well-conditioned linear regression (isotropic inputs): the loss surface is one
    round bowl, so a too-high learning rate makes SGD bounce around its bottom."""
    x = rng.normal(size=(800, 8))
    return x, x @ rng.normal(size=8) + rng.normal(size=800)


def _wave_target(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A strongly non-linear target with a small linear part: a linear model can explain
    only ~20% of its variance (P20, P27)."""
    x = rng.uniform(-2, 2, (4000, 4))
    y = 0.7 * x[:, 0] + np.sin(3 * x[:, 1]) + x[:, 2] * x[:, 3] + 0.1 * rng.normal(size=4000)
    return x, y


SYNTHETIC_REG = {"linreg": _linear_target, "wave": _wave_target}


def _tensors(x: np.ndarray, y: np.ndarray, task: str) -> tuple:
    yt = torch.tensor(y, dtype=torch.long) if task == "cls" else torch.tensor(y, dtype=torch.float32)
    return torch.tensor(x, dtype=torch.float32), yt


def _sequence_task(rng: np.random.Generator) -> tuple:
    """Noisy sine windows: predict the next value from the last 20 (regression)."""
    t = np.arange(3000) * 0.1
    s = np.sin(t) + 0.5 * np.sin(0.31 * t) + rng.normal(0, 0.1, t.size)
    x = np.stack([s[i : i + 20] for i in range(s.size - 21)])[:, :, None]
    y = s[20:-1]
    cut = int(len(x) * 0.75)
    return _tensors(x[:cut], y[:cut], "reg"), _tensors(x[cut:], y[cut:], "reg"), "reg"


# ---- models ---------------------------------------------------------------------------

class SeqNet(nn.Module):
    """A GRU or LSTM reading a window, with a linear head on its last state."""

    def __init__(self, cell: str, hidden: int = 16) -> None:
        super().__init__()
        self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0][:, -1])


def make_model(kind: str, n_in: int, n_out: int) -> nn.Module:
    """`linear`, `linear0` (zero init), `mlpW` (one hidden layer of W units), `deepW` (three), `dropP` (50%+), `gru`, `lstm`."""
    if kind in ("gru", "lstm"):
        return SeqNet(kind)
    if kind in ("linear", "linear0"):
        layer = nn.Linear(n_in, n_out)
        if kind == "linear0":  # zero-initialised: it starts at the mean prediction
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        return layer
    if kind.startswith("drop"):
        p = int(kind[4:]) / 100
        return nn.Sequential(nn.Dropout(p / 2), nn.Linear(n_in, 128), nn.ReLU(), nn.Dropout(p),
                             nn.Linear(128, n_out))
    width = int(kind.lstrip("mlpdeep"))
    layers: list[nn.Module] = [nn.Linear(n_in, width), nn.ReLU()]
    if kind.startswith("deep"):
        layers += [nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, n_out))


# ---- training -------------------------------------------------------------------------

def loss_of(out: torch.Tensor, y: torch.Tensor, task: str, fault: dict) -> torch.Tensor:
    """The loss, with the numeric faults: log of an unclamped softmax, fp16 summed loss."""
    if task == "reg":
        loss = (out.squeeze(-1) - y) ** 2
    elif fault.get("log_zero"):
        loss = -torch.log(torch.softmax(out, 1).gather(1, y[:, None]).squeeze(1))
    else:
        loss = nn.functional.cross_entropy(out, y, reduction="none")
    if fault.get("fp16_sum"):
        return loss.half().sum().float() / fault["fp16_sum"]  # summed in half precision
    return loss.mean()


def evaluate(model: nn.Module, data: tuple, task: str) -> tuple[float, float | None]:
    """(mean loss, accuracy) on a whole split, dropout off."""
    model.eval()
    with torch.no_grad():
        out = model(data[0])
        loss = float(loss_of(out, data[1], task, {}))
        acc = float((out.argmax(1) == data[1]).float().mean()) if task == "cls" else None
    model.train()
    return loss, acc


def corrupt(train: tuple, val: tuple, fault: dict, seed: int) -> tuple[tuple, tuple]:
    """Data faults: a tiny training set, shuffled labels, a broken validation split."""
    g = torch.Generator().manual_seed(seed)
    (xt, yt), (xv, yv) = train, val
    if "subset" in fault:
        xt, yt = xt[: fault["subset"]], yt[: fault["subset"]]
    if fault.get("shuffle_train"):
        yt = yt[torch.randperm(len(yt), generator=g)]
    if fault.get("shuffle_val"):
        yv = yv[torch.randperm(len(yv), generator=g)]
    if fault.get("val_noise"):
        xv = torch.randn(xv.shape, generator=g) * fault["val_noise"]
    return (xt, yt), (xv, yv)


def fit(r: Recipe) -> tuple[list[dict], list[dict]]:
    """Train one recipe; return the per-step and per-epoch history."""
    torch.manual_seed(r.seed)
    if "amp" in r.fault:
        r.fault["amp"] = dict(r.fault["amp"])  # the scaler's state belongs to this run
    train, val, task = load_data(r.data, r.seed)
    train, val = corrupt(train, val, r.fault, r.seed)
    n_out = int(train[1].max()) + 1 if task == "cls" else 1
    model = make_model(r.model, train[0].shape[-1], n_out)
    params = [p for p in model.parameters() if not r.fault.get("freeze")]
    opt_cls = torch.optim.Adam if r.opt == "adam" else torch.optim.SGD
    opt = opt_cls(params or [nn.Parameter(torch.zeros(1))], lr=r.lr)
    g = torch.Generator().manual_seed(r.seed)
    steps: list[dict] = []
    epochs: list[dict] = []
    for epoch in range(r.epochs):
        _set_lr(opt, r, epoch)
        order = _order(train[1], r.fault, g)
        batch_losses, batch_accs = [], []
        for b in range(0, len(order), r.batch):
            x, y = train[0][order[b : b + r.batch]], train[1][order[b : b + r.batch]]
            x, y = _dirty(r.fault, len(steps), x, y, g)
            loss, gnorm, acc = _step(model, opt, params, x, y, task, r.fault)
            steps.append({"step": len(steps), "epoch": epoch + b / len(order), "loss": loss,
                          "grad_norm": gnorm, "lr": opt.param_groups[0]["lr"]})
            batch_losses.append(loss)
            batch_accs.append(acc)
        vl, va = evaluate(model, val, task)
        rec = {"epoch": epoch, "step": len(steps) - 1, "loss": float(np.mean(batch_losses)),
               "val_loss": vl}
        if task == "cls":
            rec.update(acc=float(np.mean(batch_accs)), val_acc=va)
        epochs.append(rec)
    return steps, epochs


def _order(y: torch.Tensor, fault: dict, g: torch.Generator) -> torch.Tensor:
    """Shuffled sample order; the `by_class` fault feeds whole runs of one class (P22),
    in a class order that changes every epoch, as an unshuffled, class-sorted loader does."""
    order = torch.randperm(len(y), generator=g)
    if not fault.get("by_class"):
        return order
    classes = torch.randperm(int(y.max()) + 1, generator=g)
    return torch.cat([order[y[order] == c] for c in classes])


def _set_lr(opt: torch.optim.Optimizer, r: Recipe, epoch: int) -> None:
    """A learning-rate fault: a step schedule that jumps (a mis-typed factor), or zero."""
    lr = 0.0 if r.fault.get("lr0") else r.lr
    jump = r.fault.get("lr_jump")
    if jump and epoch >= jump[0]:
        lr = r.lr * jump[1]
    for group in opt.param_groups:
        group["lr"] = lr


def _dirty(fault: dict, step: int, x: torch.Tensor, y: torch.Tensor,
           g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A dirty batch at one step: inputs blown up (a unit/parsing error), labels wrong."""
    if step in fault.get("dirty_at", ()):
        x = x * fault.get("dirty_scale", 25.0)
        y = y[torch.randperm(len(y), generator=g)]
    return x, y


def _step(model: nn.Module, opt: torch.optim.Optimizer, params: list, x: torch.Tensor,
          y: torch.Tensor, task: str, fault: dict) -> tuple[float, float, float | None]:
    """One optimiser step; a GradScaler-like run skips updates whose gradients are not finite."""
    out = model(x)
    loss = loss_of(out, y, task, fault)
    opt.zero_grad()
    gnorm = 0.0
    if params:
        loss.backward()
        gnorm = float(torch.nn.utils.clip_grad_norm_(params, fault.get("clip", float("inf"))))
        if "amp" in fault and not _amp_ok(fault["amp"], gnorm):
            gnorm = float("inf")  # fp16 gradients overflowed: the scaler skips this update
        else:
            opt.step()
    acc = float((out.argmax(1) == y).float().mean()) if task == "cls" else None
    return float(loss), gnorm, acc


def _amp_ok(amp: dict, gnorm: float) -> bool:
    """torch.cuda.amp.GradScaler's dynamics on fp16 gradients, emulated on the CPU.

    The scaled gradients overflow fp16 (max 65504) when norm x scale exceeds it: the step
    is skipped and the scale halved; after `growth` good steps the scale doubles again,
    so overflows recur. The logged loss stays finite; only the gradient norm shows it.
    """
    if gnorm * amp["scale"] > 65504.0:
        amp["scale"] /= 2
        amp["good"] = 0
        return False
    amp["good"] = amp.get("good", 0) + 1
    if amp["good"] >= amp["growth"]:
        amp["scale"] *= 2
        amp["good"] = 0
    return True


# ---- the recipes ----------------------------------------------------------------------

def _r(name: str, intent: list[str], data: str, model: str, fmts: str, seeds: tuple = (0,),
       **kw) -> list[Recipe]:
    """One recipe per (format, seed): the same fault logged by several writers."""
    out = []
    for i, fmt in enumerate(fmts.split()):
        seed = seeds[i % len(seeds)]
        out.append(Recipe(f"{name}_{fmt}_s{seed}", data, model, fmt, intent, seed=seed,
                          fault=dict(kw.pop("fault", {})) if i == 0 else dict(out[0].fault),
                          **kw))
    return out


RECIPES: list[Recipe] = [
    # healthy: classification, regression, sequence models; per-step and per-epoch; noisy
    *_r("healthy_digits_mlp", [], "digits", "mlp64", "keras lightning tb", (0, 1, 2), epochs=15),
    *_r("healthy_wine_mlp", [], "wine", "mlp32", "hf keras", (3, 4), epochs=40, batch=16, every=5),
    *_r("healthy_cancer_mlp", [], "cancer", "mlp32", "tb hf", (5, 6), epochs=20, batch=16),
    *_r("healthy_diabetes_reg", [], "diabetes", "mlp16", "keras lightning", (7, 8), epochs=40,
        batch=16, lr=3e-3),
    *_r("healthy_seq_gru", [], "seq", "gru", "tb hf", (9, 10), epochs=12, batch=64, lr=5e-3),
    *_r("healthy_seq_lstm", [], "seq", "lstm", "keras lightning", (11, 12), epochs=12, batch=64,
        lr=5e-3),
    *_r("healthy_digits_smallbatch", [], "digits", "mlp64", "hf tb", (13, 14), epochs=6, batch=4,
        every=20),
    *_r("healthy_iris_sgd", [], "iris", "mlp16", "lightning", (15,), epochs=60, batch=8,
        opt="sgd", lr=0.05, every=5),
    # faults
    *_r("divergence_lr_jump", ["divergence"], "digits", "mlp64", "keras lightning hf tb",
        (0, 1, 2, 3), epochs=20, opt="sgd", lr=0.05, fault={"lr_jump": (8, 200)}),
    *_r("oscillation_class_sorted", ["oscillation"], "digits", "mlp64", "keras lightning tb",
        (0, 1, 2), epochs=24, lr=3e-3, fault={"by_class": True}),
    *_r("nan_fp16_sum", ["nan_loss"], "digits", "mlp64", "keras lightning tb", (0, 1, 2),
        epochs=12, fault={"lr_jump": (5, 300), "fp16_sum": 32}),
    *_r("nan_log_zero", ["nan_loss"], "digits", "mlp64", "lightning tb", (3, 4), epochs=12,
        lr=0.05, fault={"log_zero": True}),
    *_r("hidden_nan_amp", ["hidden_nan", "nan_loss"], "digits", "mlp64", "hf hf", (0, 1),
        epochs=4, every=1, fault={"amp": {"scale": 65536.0, "growth": 20}}),
    *_r("hidden_nan_filtered", ["hidden_nan", "nan_loss"], "digits", "mlp64", "hf hf", (2, 3),
        epochs=12, lr=0.05, every=5, fault={"log_zero": True}),
    *_r("spike_dirty_batch", ["loss_spike"], "digits", "mlp64", "lightning tb hf", (0, 1, 2),
        epochs=15, fault={"dirty_at": (409,)}),
    *_r("overfit_tiny_data", ["overfitting"], "digits", "deep256", "keras lightning hf tb",
        (0, 1, 2, 3), epochs=80, fault={"subset": 120}),
    *_r("not_learning_frozen", ["not_learning"], "digits", "mlp64", "keras", (0,), epochs=15,
        fault={"freeze": True}),
    *_r("not_learning_lr0", ["not_learning"], "cancer", "mlp32", "hf tb", (1, 2), epochs=15,
        fault={"lr0": True}),
    *_r("not_learning_shuffled", ["not_learning"], "digits", "linear", "lightning keras",
        (3, 4), epochs=15, fault={"shuffle_train": True}),
    *_r("data_problem_val_noise", ["data_problem"], "digits", "mlp64", "keras tb lightning",
        (0, 1, 2), epochs=20, lr=3e-4, fault={"val_noise": 0.05}),
    *_r("not_learning_linear_xor", ["not_learning"], "checker", "linear", "keras hf", (0, 1),
        epochs=30, lr=1e-2),
    *_r("underfit_tiny_model", ["underfitting"], "digits", "mlp2", "keras hf tb", (0, 1, 2),
        epochs=30, lr=3e-3),
    *_r("inverted_gap_dropout", ["inverted_gap"], "digits", "drop80", "keras lightning tb",
        (0, 1, 2), epochs=25),
    *_r("unscaled_targets", ["unscaled_loss"], "diabetes_raw", "mlp32", "keras hf tb", (0, 1, 2),
        epochs=60, batch=16, lr=1e-2),
    *_r("still_improving_short", ["still_improving"], "digits", "mlp64", "keras lightning tb",
        (0, 1, 2), epochs=6, opt="sgd", lr=0.01),
    *_r("plateau_long", ["plateau"], "seq", "gru", "tb keras lightning", (0, 1, 2), epochs=40,
        batch=64, lr=3e-3),
    # SGD just below divergence on a round bowl: the weights bounce around the minimum, so
    # the per-epoch validation loss swings +-20% around a flat level (P12)
    *_r("oscillation_sgd_high_lr", ["oscillation"], "linreg", "linear", "keras lightning tb hf",
        (0, 1, 2, 3), epochs=60, batch=16, opt="sgd", lr=0.3),
    # a step schedule that cut the learning rate 10^4-fold at epoch 6: nothing moves after (P5)
    *_r("plateau_lr_decayed", ["plateau"], "digits", "mlp64", "tb lightning hf", (4, 5, 6),
        epochs=30, fault={"lr_jump": (6, 1e-4)}),
    # a linear model on a linear task converges in 3 epochs of 30 (P11)
    *_r("plateau_converged_linear", ["plateau"], "linreg", "linear", "keras hf", (7, 8),
        epochs=30, lr=1e-2),
    # a linear model on a non-linear target explains ~15% of it, then stalls (P20, P27)
    *_r("underfit_linear_wave", ["underfitting"], "wave", "linear0", "keras hf lightning",
        (0, 1, 2), epochs=40, batch=256, opt="sgd", lr=0.005, every=5),
]


def main() -> None:
    """Train every recipe and write its run folder plus the provisional labels."""
    runs = OUT / "runs"
    only = sys.argv[1:]  # name fragments: regenerate just those runs, keep the others
    chosen = [r for r in RECIPES if not only or any(o in r.name for o in only)]
    if not only:
        shutil.rmtree(runs, ignore_errors=True)
    prov_file = OUT / "labels.provisional.yaml"
    old = yaml.safe_load(prov_file.read_text()) if only and prov_file.exists() else None
    provisional = dict((old or {}).get("runs") or {})
    for r in chosen:
        steps, epochs = fit(r)
        folder = runs / r.name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        writer = WRITERS[r.fmt]
        writer(folder, steps, epochs) if r.fmt == "keras" else writer(folder, steps, epochs, r.every)
        provisional[r.name] = {"expect": r.intent, "healthy": not r.intent}
        print(f"{r.name}: {len(steps)} steps, {len(epochs)} epochs", file=sys.stderr)
    text = yaml.safe_dump({"runs": provisional}, sort_keys=True)
    prov_file.write_text(text)


if __name__ == "__main__":
    main()
