"""A third labeled set, written once to see how the detectors carry over to recipes nobody
tuned them on: 27 small trainings on scikit-learn's bundled data (digits, breast cancer,
moons, 8 overlapping blobs, a linear regression), faults injected by construction, logged
through the writers' own classes in their default layouts (Lightning's CSVLogger and
TensorBoardLogger, torch's SummaryWriter, MLflow's file store). Labels use the devset's
vocabulary; each intended label is checked against the logged numbers with the devset's
simple checks (its README), and what those checks also find (a validation rise, a spike
anywhere, a divergence, NaN) is added to `acceptable`, as the devset's verifier does. A label
the numbers do not confirm is printed UNCONFIRMED and kept: the construction says what the
run is.

    python benchmarks/fresh_set.py OUT [SEED]   # an interpreter with torch, lightning, mlflow, scikit-learn
    /tmp/devset/venv/bin/python benchmarks/fresh_set.py /tmp/fresh/set0 0
    .venv/bin/python benchmarks/score.py /tmp/fresh/set0
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import yaml
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

OUT = Path(sys.argv[1])
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 0
torch.set_num_threads(1)


def data(kind: str, seed: int):
    if kind == "digits":
        X, y = datasets.load_digits(return_X_y=True)
    elif kind == "cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
    elif kind == "moons":
        X, y = datasets.make_moons(1200, noise=0.25, random_state=seed)
    elif kind == "blobs8":
        X, y = datasets.make_blobs(1600, centers=8, n_features=12, cluster_std=3.0, random_state=seed)
    elif kind == "regress":
        X, y = datasets.make_regression(1200, n_features=10, noise=10.0, random_state=seed)
        y = y / y.std()
    else:
        raise ValueError(kind)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.25, random_state=seed)
    sc = StandardScaler().fit(Xtr)
    Xtr, Xva = sc.transform(Xtr), sc.transform(Xva)
    reg = kind == "regress"
    t = lambda a, f: torch.tensor(a, dtype=f)
    yt = torch.float32 if reg else torch.long
    return t(Xtr, torch.float32), t(ytr, yt), t(Xva, torch.float32), t(yva, yt), reg


def mlp(d_in: int, d_out: int, width: int, depth: int = 1, dropout: float = 0.0) -> nn.Module:
    layers, d = [], d_in
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        d = width
    layers.append(nn.Linear(d, d_out))
    return nn.Sequential(*layers)


class Log:
    """One writer: 'lightning_csv', 'lightning_tb', 'tb', 'mlflow'."""

    def __init__(self, kind: str, root: Path, name: str):
        self.kind, self.root = kind, root
        if kind == "lightning_csv":
            from lightning.pytorch.loggers import CSVLogger
            self.w = CSVLogger(str(root), name="lightning_logs")
        elif kind == "lightning_tb":
            from lightning.pytorch.loggers import TensorBoardLogger
            self.w = TensorBoardLogger(str(root), name="lightning_logs")
        elif kind == "tb":
            from torch.utils.tensorboard import SummaryWriter
            self.w = SummaryWriter(str(root / "runs" / name))
        elif kind == "mlflow":
            import mlflow
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # this venv's mlflow has no SQL store
            mlflow.set_tracking_uri("file:" + str(root / "mlruns"))
            mlflow.set_experiment("fresh")
            self.run = mlflow.start_run(run_name=name)
            self.mlflow = mlflow

    def step(self, step: int, epoch: int, loss: float) -> None:
        if self.kind.startswith("lightning"):
            self.w.log_metrics({"train_loss_step": loss, "epoch": epoch}, step=step)
        elif self.kind == "tb":
            self.w.add_scalar("train/loss", loss, step)
        else:
            self.mlflow.log_metric("train_loss", loss, step=step)

    def epoch(self, step: int, epoch: int, train: float, val: float, acc: float | None, lr: float) -> None:
        vals = {"val_loss": val, **({"val_acc": acc} if acc is not None else {})}
        if self.kind.startswith("lightning"):
            self.w.log_metrics({"train_loss_epoch": train, "epoch": epoch, **vals}, step=step)
            self.w.log_metrics({"lr-SGD": lr}, step=step)
        elif self.kind == "tb":
            for k, v in vals.items():
                self.w.add_scalar(k.replace("_", "/", 1), v, step)
            self.w.add_scalar("lr", lr, step)
        else:
            for k, v in vals.items():
                self.mlflow.log_metric(k, v, step=step)
            self.mlflow.log_metric("lr", lr, step=step)

    def close(self, hparams: dict) -> None:
        if self.kind.startswith("lightning"):
            self.w.log_hyperparams(hparams)
            self.w.save()
            self.w.finalize("success")
        elif self.kind == "tb":
            self.w.close()
        else:
            self.mlflow.end_run()


def train(spec: dict, root: Path) -> dict:
    seed = spec.get("seed", 0) + SEED
    torch.manual_seed(seed)
    np.random.seed(seed)
    Xtr, ytr, Xva, yva, reg = data(spec["data"], seed)
    if spec.get("train_frac"):
        n = int(len(Xtr) * spec["train_frac"])
        Xtr, ytr = Xtr[:n], ytr[:n]
    if spec.get("shuffle_train_labels"):
        g = torch.Generator().manual_seed(seed)
        ytr = ytr[torch.randperm(len(ytr), generator=g)]
    if spec.get("val_labels_shuffled"):
        g = torch.Generator().manual_seed(seed + 1)
        yva = yva[torch.randperm(len(yva), generator=g)]
    if spec.get("target_scale"):
        ytr, yva = ytr * spec["target_scale"], yva * spec["target_scale"]
    C = 1 if reg else int(ytr.max()) + 1
    model = mlp(Xtr.shape[1], C, spec.get("width", 64), spec.get("depth", 1), spec.get("dropout", 0.0))
    if spec.get("linear"):
        model = nn.Linear(Xtr.shape[1], C)
    opt_kind = spec.get("opt", "adam")
    lr = spec.get("lr", 1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=lr) if opt_kind == "adam" else \
        torch.optim.SGD(model.parameters(), lr=lr, momentum=spec.get("momentum", 0.0))
    sched = None
    if spec.get("step_lr"):
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=spec["step_lr"][0], gamma=spec["step_lr"][1])
    if spec.get("exp_gamma"):
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=spec["exp_gamma"])
    smooth = spec.get("label_smoothing", 0.0)
    lossf = nn.MSELoss() if reg else nn.CrossEntropyLoss(label_smoothing=smooth)
    val_lossf = nn.MSELoss() if reg else nn.CrossEntropyLoss()
    bs, epochs = spec.get("bs", 32), spec.get("epochs", 30)
    log = Log(spec["logger"], root, spec["name"])
    step, rec = 0, {"train": [], "val": [], "acc": [], "epoch_train": []}
    g = torch.Generator().manual_seed(seed + 2)
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(Xtr), generator=g)
        losses = []
        for i in range(0, len(Xtr), bs):
            idx = perm[i:i + bs]
            xb, yb = Xtr[idx], ytr[idx]
            if spec.get("spike_at") is not None and step == spec["spike_at"]:
                xb = xb * 40.0  # one corrupted batch: inputs in the wrong units, labels shifted by one
                yb = yb if reg else (yb + 1) % C
            out = model(xb)
            out = out.squeeze(-1) if reg else out
            loss = lossf(out, yb)
            if spec.get("l2_logged"):  # an explicit weight penalty in the loss that is logged
                loss = loss + spec["l2_logged"] * sum((p ** 2).sum() for p in model.parameters())
            if spec.get("nan_at") is not None and step >= spec["nan_at"]:
                loss = loss * torch.log(torch.zeros(()))  # log(0) in the loss: -inf * loss -> NaN weights
            opt.zero_grad()
            loss.backward()
            if spec.get("clip"):
                nn.utils.clip_grad_norm_(model.parameters(), spec["clip"])
            opt.step()
            v = float(loss.detach())
            losses.append(v)
            rec["train"].append((step, v))
            log.step(step, ep, v)
            step += 1
        model.eval()
        with torch.no_grad():
            out = model(Xva)
            out = out.squeeze(-1) if reg else out
            vl = float(val_lossf(out, yva))
            acc = None if reg else float((out.argmax(1) == yva).float().mean())
        tr = float(np.mean(losses))
        rec["val"].append((step - 1, vl)); rec["acc"].append(acc); rec["epoch_train"].append(tr)
        log.epoch(step - 1, ep, tr, vl, acc, opt.param_groups[0]["lr"])
        if sched:
            sched.step()
    log.close({"lr": lr, "batch_size": bs, "epochs": epochs})
    rec["C"] = None if reg else C
    return rec


# name, logger, spec, expected, acceptable
S = [
    ("healthy_digits_adam", "lightning_csv", dict(data="digits", lr=1e-3, epochs=25), ["healthy"], []),
    ("healthy_cancer_sgd", "tb", dict(data="cancer", opt="sgd", lr=0.01, momentum=0.9, epochs=12, width=32), ["healthy"], []),
    ("healthy_moons_mlflow", "mlflow", dict(data="moons", lr=3e-3, epochs=40, width=64), ["healthy"], []),
    ("healthy_blobs_tb", "lightning_tb", dict(data="blobs8", lr=1e-3, epochs=30, width=64), ["healthy"], []),
    ("healthy_regress_csv", "lightning_csv", dict(data="regress", lr=3e-3, epochs=40, width=64), ["healthy"], []),
    ("overfit_digits_small_train", "mlflow", dict(data="digits", lr=3e-3, epochs=150, width=512, depth=2, train_frac=0.06), ["overfitting", "early_stopping_point"], []),
    ("overfit_moons_wide", "lightning_tb", dict(data="moons", lr=1e-2, epochs=300, width=512, depth=2, train_frac=0.05), ["overfitting", "early_stopping_point"], []),
    ("diverge_moons_sgd_lr_up", "lightning_csv", dict(data="moons", opt="sgd", lr=0.05, momentum=0.9, exp_gamma=1.35, epochs=30), ["divergence"], ["nan_loss"]),
    ("diverge_regress_sgd", "tb", dict(data="regress", opt="sgd", lr=0.02, momentum=0.9, exp_gamma=1.4, epochs=25), ["divergence"], ["nan_loss"]),
    ("nan_log_zero_digits", "lightning_tb", dict(data="digits", lr=1e-3, epochs=20, nan_at=600), ["nan_loss"], []),
    ("nan_log_zero_cancer", "mlflow", dict(data="cancer", lr=1e-3, epochs=20, nan_at=150), ["nan_loss"], []),
    ("lr_too_low_digits_sgd", "lightning_csv", dict(data="digits", opt="sgd", lr=2e-4, epochs=30), ["lr_too_low"], ["not_learning", "underfitting"]),
    ("lr_too_low_blobs_sgd", "mlflow", dict(data="blobs8", opt="sgd", lr=3e-4, epochs=30), ["lr_too_low"], ["not_learning", "underfitting"]),
    ("not_learning_random_labels", "tb", dict(data="digits", lr=1e-3, epochs=12, width=8, shuffle_train_labels=True), ["not_learning"], ["underfitting"]),
    ("not_learning_lr_zero", "lightning_tb", dict(data="blobs8", opt="sgd", lr=1e-9, epochs=15), ["not_learning"], ["lr_too_low"]),
    ("plateau_steplr_collapse", "lightning_csv", dict(data="digits", opt="sgd", lr=0.01, momentum=0.9, step_lr=(3, 0.001), epochs=30, width=32), ["plateau_late"], ["underfitting", "lr_too_low"]),
    ("plateau_exp_decay_too_fast", "mlflow", dict(data="blobs8", opt="sgd", lr=0.02, momentum=0.9, exp_gamma=0.5, epochs=30), ["plateau_late"], ["underfitting", "lr_too_low"]),
    ("oscillation_regress_high_lr", "mlflow", dict(data="regress", opt="sgd", lr=0.04, momentum=0.97, epochs=40, width=32), ["oscillation"], ["loss_spike", "overfitting", "early_stopping_point"]),
    ("spike_corrupted_batch_digits", "tb", dict(data="digits", lr=1e-3, epochs=20, spike_at=500), ["loss_spike"], ["overfitting", "early_stopping_point"]),
    ("spike_corrupted_batch_regress", "lightning_csv", dict(data="regress", lr=3e-3, epochs=30, spike_at=600, width=64), ["loss_spike"], ["overfitting", "early_stopping_point"]),
    ("underfit_linear_moons", "lightning_tb", dict(data="moons", linear=True, lr=1e-2, epochs=40), ["underfitting"], ["plateau_late"]),
    ("underfit_tiny_digits", "mlflow", dict(data="digits", width=2, lr=1e-2, epochs=40), ["underfitting"], ["plateau_late"]),
    ("inverted_gap_label_smoothing", "lightning_csv", dict(data="blobs8", lr=1e-3, epochs=30, label_smoothing=0.5), ["train_val_gap_inverted"], []),
    ("inverted_gap_l2_in_logged_loss", "tb", dict(data="digits", lr=1e-3, epochs=30, l2_logged=3e-3, width=128), ["train_val_gap_inverted"], []),
    ("unscaled_targets_x1000", "lightning_tb", dict(data="regress", lr=1e-2, epochs=40, target_scale=1000.0), ["unscaled_targets"], []),
    ("data_val_labels_shuffled", "mlflow", dict(data="digits", lr=1e-3, epochs=25, val_labels_shuffled=True), ["data_problem"], ["overfitting", "early_stopping_point", "not_learning"]),
    ("data_val_labels_shuffled_tb", "lightning_tb", dict(data="blobs8", lr=1e-3, epochs=25, val_labels_shuffled=True), ["data_problem"], ["overfitting", "early_stopping_point", "not_learning"]),
]


def verify(rec: dict, spec: dict, C: int | None = None) -> dict[str, bool]:
    """The devset's simple checks (its README), on the numbers as logged."""
    t = np.array([v for _, v in rec["train"]]); et = np.array(rec["epoch_train"])
    v = np.array([x for _, x in rec["val"]]); acc = rec["acc"]
    out = {}
    ft = np.isfinite(t)
    h = len(et) // 2
    t2 = et[h:][np.isfinite(et[h:])]  # epoch means: a per-step batch loss jumps by its sampling alone
    osc_t = t2.size > 2 and np.median(np.abs(np.diff(t2)) / np.maximum(t2[:-1], 1e-12)) >= 0.25 and np.mean(np.diff(t2) > 0) >= 0.35
    fv = v[np.isfinite(v)]
    hv = fv[len(fv) // 2:]
    osc_v = hv.size > 2 and np.median(np.abs(np.diff(hv)) / hv[:-1]) >= 0.10 and np.mean(np.diff(hv) > 0) >= 0.35
    out["oscillation"] = bool(osc_t or osc_v)
    if fv.size:
        i = int(np.argmin(fv))
        rise = fv[-1] / fv[i] - 1
        et_f = et[np.isfinite(et)]
        out["overfitting"] = bool(rise >= 0.05 and i <= 0.85 * (len(fv) - 1) and len(et_f) == len(et) and et[-1] < et[i])
    fe = np.isfinite(et)
    run_min = np.minimum.accumulate(np.where(fe, et, np.inf))
    left = np.flatnonzero(~(et <= 2 * run_min))  # NaN counts as left
    out["divergence"] = bool(left.size and np.all(~(et[left[0]:] <= 2 * run_min[left[0]])) and
                             ((~fe).any() or np.nanmax(et[left[0]:]) > 5 * run_min[left[0]]))
    out["nan_loss"] = bool((~ft).any() or (~np.isfinite(v)).any())
    if spec.get("spike_at") is not None:
        k = spec["spike_at"]
        pre = t[max(0, k - 50):k]
        out["loss_spike"] = bool(t[k] >= 3 * np.median(pre) and t[k] >= 1.5 * pre.max() and np.median(t[k + 5:k + 30]) < 0.5 * t[k])
    # Anywhere in the run (the devset's spike check at every point, not only at an injected one).
    any_spike = False
    for k in range(50, len(t) - 30):
        pre = t[k - 50:k]
        if np.isfinite(t[k]) and np.all(np.isfinite(pre)) and t[k] >= 3 * np.median(pre) and t[k] >= 1.5 * pre.max() \
                and np.median(t[k + 5:k + 30]) < 0.5 * t[k]:
            any_spike = True
            break
    out["any_spike"] = any_spike
    out["not_learning"] = bool(ft.all() and abs(et[-1] / et[0] - 1) < 0.05 and abs(v[-1] / v[0] - 1) < 0.05)
    out["lr_too_low"] = bool(ft.all() and et[-1] / et[0] > 0.5 and et[-1] < et[len(et) // 2] * 0.99)
    out["plateau_late"] = bool(ft.all() and abs(et[-1] / et[len(et) // 2] - 1) < 0.05 and et[-1] < 0.9 * et[0])
    n = min(len(et), len(v))
    ratio = et[:n] / v[:n]
    out["train_val_gap_inverted"] = bool(np.mean(ratio > 1) >= 0.8 and np.median(ratio) >= 1.15)
    chance = None if C is None or C < 2 else 1 / C
    acc_chance = chance is not None and acc[-1] is not None and abs(acc[-1] - chance) < 0.1
    out["data_problem"] = bool(ft.all() and et[-1] < 0.7 * et[0] and ((fv.size and fv[-1] >= 1.3 * fv.min()) or acc_chance))
    out["unscaled_targets"] = bool(t[0] >= 100)
    return out


def measured(rec: dict) -> dict:
    t = np.array([v for _, v in rec["train"]])
    et = np.array(rec["epoch_train"])
    v = np.array([x for _, x in rec["val"]])
    f = np.isfinite(v)
    m = {"train_first": float(t[0]), "train_last": float(t[-1]), "epoch_train_first": float(et[0]),
         "epoch_train_last": float(et[-1]), "val_first": float(v[0]), "val_last": float(v[-1]),
         "val_min": float(np.nanmin(v)) if f.any() else None, "nonfinite": bool((~np.isfinite(t)).any() or (~f).any()),
         "acc_last": rec["acc"][-1]}
    if f.any():
        i = int(np.nanargmin(v))
        m["val_argmin_frac"] = i / max(1, len(v) - 1)
        m["val_rise_from_min"] = float(v[f][-1] / v[i] - 1)
    return m


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "runs").mkdir(parents=True)
    labels = {}
    only = os.environ.get("ONLY")
    for name, logger, spec, exp, acc in S:
        if only and only not in name:
            continue
        root = OUT / "runs" / name
        root.mkdir()
        rec = train({**spec, "name": name, "logger": logger}, root)
        m = measured(rec)
        ok = verify(rec, spec, rec.get("C"))
        exp, acc = list(exp), list(acc)
        unconfirmed = [l for l in exp if l in ok and not ok[l] and l != "underfitting"]
        if ok.get("any_spike"):
            ok["loss_spike_anywhere"] = True
        for extra in ("overfitting", "nan_loss", "oscillation", "divergence", "loss_spike"):
            if (ok.get(extra) or (extra == "loss_spike" and ok.get("any_spike"))) and extra not in exp and extra not in acc:
                acc += [extra] + (["early_stopping_point"] if extra == "overfitting" else [])
        if "healthy" in exp and any(ok.get(l) for l in ("overfitting", "divergence", "oscillation", "nan_loss")):
            unconfirmed.append("healthy")
        if m["nonfinite"] and "nan_loss" not in exp:
            exp.append("nan_loss")
        labels[name] = {"logger": logger, "spec": {k: v for k, v in spec.items()}, "expected": exp,
                        "acceptable": acc, "measured": m, "checks": ok, "unconfirmed": unconfirmed}
        print(f"{'UNCONFIRMED ' + ','.join(unconfirmed) if unconfirmed else 'ok':24s} {name:34s} exp={exp} acc={acc} "
              f"{json.dumps({k: (round(x, 4) if isinstance(x, float) else x) for k, x in m.items()})[:160]}", flush=True)
    (OUT / "labels.yaml").write_text(yaml.safe_dump({"runs": labels}, sort_keys=False))


main()
