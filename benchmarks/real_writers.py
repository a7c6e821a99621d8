"""Write the fixture trees of tests/data/layouts/ with the REAL writers, in their default layouts.

    /work/writers-venv/bin/python benchmarks/real_writers.py [--only case,...] OUT_DIR
    # e.g. /work/writers-venv/bin/python benchmarks/real_writers.py tests/data/layouts
    #      ... --only ultralytics_project --case-python ultralytics_project=/work/writers-venv-yolo/bin/python

The writers' venvs live outside the repository (the loggers are not lossdoctor's
dependencies); torch first, so that nothing pulls a CUDA build:

    python3 -m venv /work/writers-venv && P=/work/writers-venv/bin/pip
    $P install torch==2.13.0
    $P install lightning tensorboard keras tensorflow-cpu transformers accelerate mlflow wandb mmengine pandas
    # Ultralytics needs torchvision, which does not import beside torch 2.13.0: a second venv
    python3 -m venv /work/writers-venv-yolo && Y=/work/writers-venv-yolo/bin/pip
    $Y install torch==2.14.1 torchvision==0.29.1 && $Y install ultralytics mlflow tensorboard pandas

and name the second interpreter with --case-python (each case runs in a fresh interpreter).

Cases (CASES below): lightning_two_loggers, lightning_two_loggers_split, lightning_named,
summarywriter_runs, keras_fit_tb, keras_csvlogger_nested, hf_output_dir, hf_many_outputs,
mlflow_file_store, mlflow_sqlite, wandb_offline, mmengine_workdir, ultralytics_project.
All thirteen take ~2.5 minutes on 2 cores; tests/data/layouts/PROVENANCE.md says what each holds.

Each case trains a tiny model on the CPU for a few seconds (seeded, one thread), in the
case's own folder as the working directory, so the writers' relative defaults (runs/,
lightning_logs/, mlruns/, mlflow.db, wandb/) land where they land on a user's disk. It then
reads the numbers back, checks that the injected fault is really in them, and writes
OUT_DIR/<case>.yaml beside the tree: the writer versions, the paths a user would pass, every
run the tree holds (root, name, log files, fault, the rule ids a diagnosis must contain) and
the files that are not training logs. Weight files over 20 KB are truncated to empty files
of the same name (the layout stays; the yaml notes say which).

Not imported by lossdoctor or its tests.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

ENV = {
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
    "WANDB_MODE": "offline", "WANDB_SILENT": "true", "YOLO_OFFLINE": "1",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "DO_NOT_TRACK": "1",
    "PYTHONHASHSEED": "0", "TOKENIZERS_PARALLELISM": "false",
}
WEIGHT_LIMIT = 20_000  # bytes: bigger weight files are truncated (tests/data/layouts stays under 3 MB)
WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".keras", ".h5")


# --------------------------------------------------------------------------- shared helpers

def seed_all(seed: int) -> None:
    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)


def versions(*packages: str) -> str:
    return ", ".join(f"{p} {version(p)}" for p in packages)


def rel(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def files_under(folder: Path, *patterns: str) -> list[str]:
    """Files under `folder` matching any glob pattern (recursive), relative to it, sorted."""
    found = {p for pat in patterns for p in folder.rglob(pat)
             if p.is_file() or (p.is_symlink() and not p.exists())}  # a dangling link too
    return sorted(rel(p, folder) for p in found)


def run_entry(root: str, name: str, files: list[str], fault: str = "none",
              must_report: list[str] | None = None, step_unit: str = "step") -> dict:
    return {"root": root, "name": name, "files": files, "step_unit": step_unit,
            "fault": fault, "must_report": list(must_report or [])}


def shrink_weights(root: Path) -> list[str]:
    """Truncate weight files over WEIGHT_LIMIT to 0 bytes (same name); return what was cut."""
    cut = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in WEIGHT_SUFFIXES and p.stat().st_size > WEIGHT_LIMIT:
            cut.append(f"{rel(p, root)} ({p.stat().st_size} B)")
            p.write_bytes(b"")
    return cut


def regression_data(n: int, seed: int, dim: int = 8):
    """x ~ N(0, 1), y = x.w + noise: a task a small MLP learns in a few dozen steps."""
    import torch
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(dim, 1, generator=g)
    x = torch.randn(n, dim, generator=g)
    return x, x @ w + 0.1 * torch.randn(n, 1, generator=g)


def mlp(dim: int = 8, hidden: int = 16):
    from torch import nn
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def warmup(peak: float, over: int = 30):
    """Linear warm-up to `peak`, then constant: with peak 0.8 on the linear model, SGD passes
    its stability limit near step 25 and the loss climbs ~1e6x but stays finite."""
    return lambda step: peak * min(1.0, (step + 1) / over)


def train_regression(steps: int, lr, seed: int = 0, batch: int = 16, val_every: int = 10,
                     linear: bool = False):
    """Plain torch SGD on regression_data; yields (step, train_loss, val_loss or None, lr).

    `lr` is a number or a function of the step (a schedule). The diverging cases use the
    linear model, whose blow-up past the stability limit is smooth (the MLP's is chaotic
    and overflows to inf within a few steps).
    """
    import torch
    seed_all(seed)
    x, y = regression_data(512, seed)
    xv, yv = x[448:], y[448:]
    model = torch.nn.Linear(8, 1) if linear else mlp()
    opt = torch.optim.SGD(model.parameters(), lr=lr(0) if callable(lr) else lr)
    for step in range(steps):
        rate = lr(step) if callable(lr) else lr
        for group in opt.param_groups:
            group["lr"] = rate
        i = (step * batch) % 448
        loss = torch.nn.functional.mse_loss(model(x[i:i + batch]), y[i:i + batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        val = None
        if (step + 1) % val_every == 0:
            with torch.no_grad():
                val = torch.nn.functional.mse_loss(model(xv), yv).item()
        yield step, loss.item(), val, rate


def fault_facts(points: list[tuple[int, float]], what: str) -> dict:
    """What the written (step, value) points show: first non-finite step, best, last."""
    values = [v for _, v in points]
    finite = [v for v in values if math.isfinite(v)]
    bad = [s for s, v in points if not math.isfinite(v)]
    best = min(finite) if finite else float("nan")
    last = values[-1] if values else float("nan")
    return {"what": what, "points": len(values), "nonfinite": len(bad),
            "first_bad_step": bad[0] if bad else None, "first_step": points[0][0] if points else None,
            "best": best, "last": last,
            "ratio_last_best": (last / best) if finite and best > 0 else float("nan")}


def describe(facts: dict) -> str:
    if facts["nonfinite"]:
        return (f"{facts['what']}: {facts['nonfinite']} of {facts['points']} points non-finite, "
                f"the first at step {facts['first_bad_step']}")
    ratio = facts["ratio_last_best"]
    return (f"{facts['what']}: all {facts['points']} points finite, best {facts['best']:.4g}, "
            f"last {facts['last']:.4g}" + (f" ({ratio:.3g}x best)" if math.isfinite(ratio) else ""))


def require(cond: bool, message: str) -> None:
    """A fault that is not in the written numbers makes a wrong fixture: stop loudly."""
    if not cond:
        raise SystemExit(f"fixture check failed: {message}")


def check_fault(facts: dict, fault: str) -> str:
    if fault == "nan":
        require(facts["nonfinite"] > 0, f"{facts['what']} has no non-finite value")
        require(facts["first_bad_step"] != facts["first_step"],
                f"{facts['what']} is non-finite from the start")
    elif fault == "divergence":
        require(facts["nonfinite"] == 0, f"{facts['what']} went non-finite instead of diverging")
        require(facts["ratio_last_best"] > 10, f"{facts['what']} ends at only "
                f"{facts['ratio_last_best']:.3g}x its best")
    else:
        require(facts["nonfinite"] == 0, f"{facts['what']} is not finite in a healthy run")
        require(facts["last"] < 2 * facts["best"] + 1e-9, f"{facts['what']} rises in a healthy run")
    return describe(facts)


def tb_scalars(path: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of one tag from an event file or folder, whether the writer stored it
    as a simple value (torch, Lightning) or as a tensor (tf.summary, Keras)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    if tag in tags.get("scalars", []):
        return [(e.step, float(e.value)) for e in acc.Scalars(tag)]
    if tag in tags.get("tensors", []):
        return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto)))
                for e in acc.Tensors(tag)]
    raise SystemExit(f"fixture check failed: no tag {tag!r} in {path} (tags: {tags})")


def tb_tags(path: Path) -> list[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    return sorted(set(tags.get("scalars", [])) | set(tags.get("tensors", [])))


# --------------------------------------------------------------------------- Lightning

def lightning_regressor(lr: float):
    """A LightningModule as a tutorial writes one: step + epoch train loss, val loss, StepLR."""
    import lightning as L
    import torch

    class Regressor(L.LightningModule):
        def __init__(self, lr: float = 0.05):
            super().__init__()
            self.save_hyperparameters()
            self.net = mlp()

        def training_step(self, batch, _):
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True)
            return loss

        def validation_step(self, batch, _):
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch[0]), batch[1]))

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
            return {"optimizer": opt,
                    "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)}

    return Regressor(lr=lr)


def lightning_fit(lr: float, loggers, callbacks=(), seed: int = 0, epochs: int = 4) -> None:
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset
    seed_all(seed)
    L.seed_everything(seed, verbose=False)
    x, y = regression_data(256, seed)
    train = DataLoader(TensorDataset(x[:192], y[:192]), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(x[192:], y[192:]), batch_size=32)
    trainer = L.Trainer(max_epochs=epochs, logger=loggers, callbacks=list(callbacks),
                        log_every_n_steps=4, accelerator="cpu", devices=1,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(lightning_regressor(lr), train, val)


def csv_series(path: Path, column: str, step: str = "step") -> list[tuple[int, float]]:
    """(step, value) of the non-empty cells of one column, 'nan' and 'inf' kept as such."""
    import pandas as pd
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return [(int(float(s)), float(v)) for s, v in zip(table[step], table[column], strict=True) if v.strip()]


def two_loggers(share: bool):
    """CSVLogger + TensorBoardLogger on one save_dir. Each resolves its version lazily from
    the folders on disk, so by default the CSV logger takes version_N and the TensorBoard
    logger, coming second, sees that folder and takes version_N+1 (Lightning issue 18099).
    `share` passes the CSV logger's version to the TensorBoard logger, the usual fix."""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    csv = CSVLogger(save_dir=".")
    return [csv, TensorBoardLogger(save_dir=".", version=csv.version if share else None)]


def two_logger_runs(root: Path, share: bool) -> tuple[list, list]:
    from lightning.pytorch.callbacks import LearningRateMonitor
    runs, notes = [], []
    for seed, (lr, fault) in enumerate([(0.05, "none"), (0.4, "nan")]):  # 0.4: too high
        loggers = two_loggers(share)
        lightning_fit(lr, loggers, [LearningRateMonitor(logging_interval="step")], seed=seed)
        for logger in loggers:
            folder = Path(logger.log_dir).resolve()
            kind = type(logger).__name__
            vals = (csv_series(folder / "metrics.csv", "train_loss_step") if kind == "CSVLogger"
                    else tb_scalars(folder, "train_loss_step"))
            notes.append(f"{folder.name} (lr={lr}) {kind} " +
                         check_fault(fault_facts(vals, "train_loss_step"), fault))
        for folder in sorted({Path(lg.log_dir).resolve() for lg in loggers}):
            runs.append(run_entry(rel(folder, root), rel(folder, root), files_under(
                folder, "metrics.csv", "events.out.tfevents.*", "hparams.yaml"),
                fault, ["nan_loss"] if fault == "nan" else []))
    cut = shrink_weights(root)
    notes.append("checkpoints kept as Lightning wrote them (under the first logger's folder)"
                 if not cut else f"truncated: {cut}")
    return runs, notes


def lightning_two_loggers(root: Path) -> dict:
    runs, notes = two_logger_runs(root, share=True)
    notes.insert(0, "TensorBoardLogger(save_dir='.', version=csv_logger.version): without "
                 "the shared version the two loggers split (see lightning_two_loggers_split)")
    return {"writer": versions("lightning", "torch", "tensorboard") +
            " (CSVLogger + TensorBoardLogger sharing one version folder)",
            "point_at": ["", "lightning_logs"], "runs": runs, "notes": notes}


def lightning_two_loggers_split(root: Path) -> dict:
    runs, notes = two_logger_runs(root, share=False)
    notes.insert(0, "Trainer(logger=[CSVLogger(save_dir='.'), TensorBoardLogger(save_dir='.')]) "
                 "with no version: each training writes its CSV into one version folder and its "
                 "events into the next, so two trainings leave four folders; each folder is "
                 "listed as a run, as nothing on disk ties the pairs together")
    return {"writer": versions("lightning", "torch", "tensorboard") +
            " (CSVLogger + TensorBoardLogger, default versions)",
            "point_at": ["", "lightning_logs"], "runs": runs, "notes": notes}


def lightning_named(root: Path) -> dict:
    from lightning.pytorch.loggers import CSVLogger
    runs, notes = [], []
    for v, lr in enumerate([0.05, 0.1]):
        lightning_fit(lr, CSVLogger(save_dir="logs", name="tiny_regressor"), seed=10 + v)
        folder = root / "logs" / "tiny_regressor" / f"version_{v}"
        vals = csv_series(folder / "metrics.csv", "train_loss_step")
        notes.append(f"version_{v} (lr={lr}) " + check_fault(fault_facts(vals, "train_loss_step"), "none"))
        runs.append(run_entry(f"logs/tiny_regressor/version_{v}", f"tiny_regressor/version_{v}",
                              files_under(folder, "metrics.csv", "hparams.yaml")))
    cut = shrink_weights(root)
    notes.append("checkpoints kept as Lightning wrote them" if not cut else f"truncated: {cut}")
    return {"writer": versions("lightning", "torch") + " (CSVLogger only)",
            "point_at": ["", "logs", "logs/tiny_regressor"], "runs": runs, "notes": notes}


# --------------------------------------------------------------------------- torch SummaryWriter

def summarywriter_runs(root: Path) -> dict:
    """Two runs under the default runs/<Mon>DD_HH-MM-SS_<host>/ folders of SummaryWriter()."""
    from torch.utils.tensorboard import SummaryWriter
    healthy = SummaryWriter()
    for step, loss, val, _ in train_regression(60, 0.05, seed=0):
        healthy.add_scalar("Loss/train", loss, step)
        if val is not None:  # add_scalars: one sub-folder (its own writer) per key
            healthy.add_scalars("loss", {"train": loss, "val": val}, step)
    healthy.close()
    time.sleep(1.1)  # the default folder name has one-second resolution
    broken = SummaryWriter()
    log_dir, steps = broken.log_dir, train_regression(60, warmup(0.8), seed=1, linear=True)
    for step, loss, val, rate in steps:
        if step == 30:  # the job is restarted: a second writer on the same folder goes on
            broken.close()
            time.sleep(1.1)
            broken = SummaryWriter(log_dir=log_dir)
        broken.add_scalar("Loss/train", loss, step)
        broken.add_scalar("lr", rate, step)
        if val is not None:
            broken.add_scalar("Loss/val", val, step)
    broken.close()
    return summarywriter_manifest(root, Path(healthy.log_dir), Path(log_dir))


def summarywriter_manifest(root: Path, healthy: Path, broken: Path) -> dict:
    train = fault_facts(tb_scalars(healthy, "Loss/train"), "Loss/train")
    own = tb_tags(next(healthy.glob("events.out.tfevents.*")))
    spans = [(pts[0][0], pts[-1][0]) for pts in (tb_scalars(f, "Loss/train")
             for f in sorted(broken.glob("events.out.tfevents.*")))]
    notes = [f"healthy run: {check_fault(train, 'none')}",
             "its add_scalars('loss', ...) wrote sub-folders " + ", ".join(
                 f"{p.name}/ (tags {tb_tags(p)})" for p in sorted(healthy.iterdir()) if p.is_dir())
             + f"; the folder's own event file has tags {own}",
             f"restarted run ({len(spans)} event files in one folder, steps {spans}): "
             + check_fault(fault_facts(tb_scalars(broken, "Loss/train"), "Loss/train"), "divergence")]
    runs = [run_entry(rel(healthy, root), f"runs/{healthy.name}",
                      files_under(healthy, "events.out.tfevents.*")),
            run_entry(rel(broken, root), f"runs/{broken.name}", files_under(broken, "events.out.tfevents.*"),
                      "divergence", ["divergence"])]
    return {"writer": versions("torch", "tensorboard") + " (torch.utils.tensorboard.SummaryWriter)",
            "point_at": ["", "runs"], "runs": runs, "notes": notes}


# --------------------------------------------------------------------------- Keras 3

def keras_classifier(seed: int, lr: float = 0.05):
    """A Dense binary classifier on a linearly separable task, compiled as in the guides."""
    import keras
    import numpy as np
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(320, 8)).astype("float32")
    y = (x @ rng.normal(size=8) > 0).astype("float32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model, (x[:256], y[:256]), (x[256:], y[256:])


def keras_fit(seed: int, callbacks: list, epochs: int = 6) -> None:
    model, (x, y), val = keras_classifier(seed)
    model.fit(x, y, batch_size=16, epochs=epochs, validation_data=val, callbacks=callbacks,
              verbose=0)


def keras_fit_tb(root: Path) -> dict:
    """The TensorBoard tutorial: log_dir = "logs/fit/" + a %Y%m%d-%H%M%S time stamp."""
    import datetime

    import keras
    runs, notes = [], []
    for seed, extra in enumerate([{}, {"update_freq": 4}]):
        log_dir = "logs/fit/" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        keras_fit(seed, [keras.callbacks.TensorBoard(log_dir=log_dir, histogram_freq=1, **extra)])
        folder = root / log_dir
        subs = {p.name: tb_tags(p) for p in sorted(folder.iterdir()) if p.is_dir()}
        notes.append(f"{log_dir} (TensorBoard(histogram_freq=1{', update_freq=4' if extra else ''})): "
                     + "; ".join(f"{k}/ tags {v}" for k, v in subs.items()) + "; " +
                     check_fault(fault_facts(tb_scalars(folder / "train", "epoch_loss"),
                                             "train/epoch_loss"), "none"))
        runs.append(run_entry(log_dir, log_dir.removeprefix("logs/"),
                              files_under(folder, "events.out.tfevents.*"), step_unit="epoch"))
        time.sleep(1.1)  # the tutorial's time stamp has one-second resolution
    return {"writer": versions("keras", "tensorflow-cpu", "tensorboard") +
            " (keras.callbacks.TensorBoard, TensorFlow backend)",
            "point_at": ["", "logs", "logs/fit"], "runs": runs, "notes": notes}


def keras_csvlogger_nested(root: Path) -> dict:
    """A project folder: logs/training_log.csv one level down, beside files that are not logs."""
    import keras
    (root / "logs").mkdir()
    config = {"epochs": 8, "batch_size": 16, "optimizer": "sgd", "learning_rate": 0.05, "seed": 3}
    (root / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (root / "requirements.txt").write_text("".join(
        f"{p}=={version(p)}\n" for p in ("keras", "tensorflow-cpu", "numpy", "pandas")))
    with open(root / "logs" / "pip.log", "w") as log:  # pip's own output, as `pip ... > pip.log`
        subprocess.run([sys.executable, "-m", "pip", "install", "--isolated", "--no-index",
                        "--dry-run", "--no-deps",
                        "-r", "requirements.txt"], stdout=log, stderr=subprocess.STDOUT, check=True)
    keras_fit(3, [keras.callbacks.CSVLogger("logs/training_log.csv")], epochs=config["epochs"])
    vals = csv_series(root / "logs" / "training_log.csv", "loss", step="epoch")
    notes = ["pip.log is the stdout and stderr of "
             "`pip install --isolated --no-index --dry-run --no-deps -r requirements.txt`",
             "training_log.csv " + check_fault(fault_facts(vals, "loss"), "none")]
    return {"writer": versions("keras", "tensorflow-cpu") + " (keras.callbacks.CSVLogger)",
            "point_at": ["", "logs", "logs/training_log.csv"],
            "runs": [run_entry("logs/training_log.csv", "logs/training_log.csv", ["."], step_unit="epoch")],
            "notes": notes}


# --------------------------------------------------------------------------- HF Trainer

class TokenTask:
    """Random token sequences labelled by whether token 0 is in the lower half of the
    vocabulary: a tiny BERT learns it in a few dozen steps. Nothing is downloaded."""

    def __init__(self, n: int, seed: int, vocab: int = 32, length: int = 8):
        import torch
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, vocab, (n, length), generator=g)
        self.labels = (self.ids[:, 0] < vocab // 2).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification
    config = BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16, num_labels=2)
    return BertForSequenceClassification(config)


def nan_callback(at_step: int):
    """Sets the classifier's weights to NaN after step `at_step`: stands in for an overflow."""
    import torch
    from transformers import TrainerCallback

    class PoisonAt(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step == at_step:
                with torch.no_grad():
                    model.classifier.weight.fill_(float("nan"))

    return PoisonAt()


def hf_train(output_dir: str, seed: int, callbacks=(), **overrides):
    """Trainer.train() on TokenTask: 96 samples, batch 8, 3 epochs = 36 steps."""
    from transformers import Trainer, TrainingArguments, set_seed
    set_seed(seed)
    settings = {"num_train_epochs": 3, "per_device_train_batch_size": 8, "per_device_eval_batch_size": 16,
                "learning_rate": 5e-3, "eval_strategy": "epoch", "save_steps": 12, "logging_steps": 4,
                "seed": seed, "use_cpu": True, "disable_tqdm": True, **overrides}
    trainer = Trainer(model=tiny_bert(), args=TrainingArguments(output_dir=output_dir, **settings),
                      train_dataset=TokenTask(96, seed), eval_dataset=TokenTask(32, seed + 100),
                      callbacks=list(callbacks))
    return trainer, trainer.train()


def hf_history(state_file: Path, key: str) -> list[tuple[int, float]]:
    history = json.loads(state_file.read_text())["log_history"]
    return [(h["step"], float(h[key])) for h in history if key in h]


def hf_output_dir(root: Path) -> dict:
    """What the example scripts (run_glue.py) leave: checkpoints, save_model, save_state,
    the *_results.json metrics, and report_to=["tensorboard"] events under runs/."""
    out = "tiny-bert"
    trainer, result = hf_train(out, seed=0, report_to=["tensorboard"])
    trainer.save_model()
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", result.metrics)
    metrics = trainer.evaluate()
    trainer.save_metrics("eval", metrics)
    trainer.save_state()
    folder = root / out
    tb_dirs = sorted(p for p in (folder / "runs").iterdir())
    notes = [f"report_to=['tensorboard'] put its events under {out}/runs/{tb_dirs[0].name}/ "
             "(TensorBoardCallback's default log dir: output_dir/runs/<Mon>DD_HH-MM-SS_<host>)",
             "trainer_state.json " + check_fault(
                 fault_facts(hf_history(folder / "trainer_state.json", "loss"), "loss"), "none"),
             "event files: " + "; ".join(
                 f"{p.name} tags {tb_tags(p)}" for p in sorted(tb_dirs[0].glob("events.*"))),
             "the second event file is trainer.evaluate() after train(): the callback closed its writer at "
             "the end of training and opened a new one on the same folder; its eval/loss repeats "
             "the last step",
             "trainer_state.json (save_state after evaluate) ends with that evaluation's entry "
             "after the train summary"]
    cut = shrink_weights(root)
    notes.append(f"weights truncated to 0 bytes: {cut}" if cut else "all weights kept (each under 20 KB)")
    files = files_under(folder, "trainer_state.json", "events.out.tfevents.*")
    return {"writer": versions("transformers", "accelerate", "torch", "tensorboard") + " (Trainer)",
            "point_at": ["", out], "runs": [run_entry(out, out, files)], "notes": notes}


def hf_many_outputs(root: Path) -> dict:
    """Two output dirs side by side, checkpoints only (no save_state, report_to default)."""
    runs, notes = [], []
    for seed, (out, fault) in enumerate([("bert-lr5e-3", "none"), ("bert-lr5e-3-nan", "nan")]):
        hf_train(out, seed=seed, callbacks=[nan_callback(14)] if fault == "nan" else [])
        last = max((root / out).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
        state = last / "trainer_state.json"
        loss = fault_facts(hf_history(state, "loss"), f"{out} {last.name} loss")
        require(loss["nonfinite"] == 0, "the Trainer's NaN filter should keep the logged loss finite")
        if fault == "nan":
            notes.append(f"{out}: classifier weights set to NaN after step 14; logged {describe(loss)} "
                         f"(values {[v for _, v in hf_history(state, 'loss')]}); "
                         + check_fault(fault_facts(hf_history(state, "grad_norm"), "grad_norm"), "nan") + "; "
                         + check_fault(fault_facts(hf_history(state, "eval_loss"), "eval_loss"), "nan"))
        else:
            notes.append(f"{out}: " + check_fault(loss, "none"))
        runs.append(run_entry(out, out, files_under(root / out, "trainer_state.json"), fault,
                              ["nan_loss", "hidden_nan"] if fault == "nan" else []))
    cut = shrink_weights(root)
    notes.append(f"weights truncated to 0 bytes: {cut}" if cut else "all weights kept (each under 20 KB)")
    notes.append("transformers 5 defaults report_to to 'none', so no runs/ folder is written")
    return {"writer": versions("transformers", "accelerate", "torch") + " (Trainer)",
            "point_at": [""], "runs": runs, "notes": notes}


# --------------------------------------------------------------------------- MLflow

def mlflow_log_run(experiment: str, name: str, lr, linear: bool = False, seed: int = 0) -> str:
    """One training logged as the MLflow quickstart does: params, metrics with steps, and a
    small artifact (the config) so the artifact store is created too."""
    import mlflow
    mlflow.set_experiment(experiment)
    peak = lr if not callable(lr) else lr(10_000)
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_params({"lr": peak, "model": "linear" if linear else "mlp", "seed": seed,
                           "schedule": "warmup" if callable(lr) else "constant"})
        mlflow.log_dict({"lr": peak, "steps": 60, "batch_size": 16}, "config.json")
        for step, loss, val, rate in train_regression(60, lr, seed=seed, linear=linear):
            mlflow.log_metric("train_loss", loss, step=step)
            mlflow.log_metric("lr", rate, step=step)
            if val is not None:
                mlflow.log_metric("val_loss", val, step=step)
    return run.info.run_id


def mlflow_history(run_id: str, key: str) -> list[tuple[int, float]]:
    from mlflow.tracking import MlflowClient
    return [(m.step, m.value) for m in MlflowClient().get_metric_history(run_id, key)]


def mlflow_runs(plan: list[tuple], root_of) -> tuple[list, list]:
    """Log every (experiment, name, lr, linear, fault) of `plan`; check each fault."""
    runs, notes = [], []
    for seed, (experiment, name, lr, linear, fault) in enumerate(plan):
        run_id = mlflow_log_run(experiment, name, lr, linear, seed)
        facts = fault_facts(mlflow_history(run_id, "train_loss"), "train_loss")
        notes.append(f"{experiment}/{name} ({run_id}): " + check_fault(facts, fault))
        root, files = root_of(run_id)
        must = {"nan": ["nan_loss"], "divergence": ["divergence"]}.get(fault, [])
        runs.append(run_entry(root, f"{experiment}/{name}", files, fault, must))
    return runs, notes


def mlflow_file_store(root: Path) -> dict:
    """The file store, which MLflow 3 refuses unless MLFLOW_ALLOW_FILE_STORE=true is set."""
    import mlflow
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    mlflow.set_tracking_uri("./mlruns")

    def root_of(run_id: str):
        folder = next((root / "mlruns").glob(f"*/{run_id}"))
        return rel(folder, root), files_under(folder, "meta.yaml", "metrics/*", "params/*", "tags/*")

    runs, notes = mlflow_runs([("baseline", "mlp-sgd-0.05", 0.05, False, "none"),
                               ("lr-sweep", "mlp-sgd-0.02", 0.02, False, "none"),
                               ("lr-sweep", "mlp-sgd-0.4", 0.4, False, "nan")], root_of)
    lines = (root / runs[2]["root"] / "metrics" / "train_loss").read_text().split("\n")
    tokens = sorted({ln.split()[1] for ln in lines if ln and not math.isfinite(float(ln.split()[1]))})
    notes.append(f"tracking URI set to {mlflow.get_tracking_uri()}; the NaN run's metrics/train_loss "
                 f"writes non-finite values as {tokens}; meta.yaml holds absolute artifact paths "
                 "of the machine that wrote them")
    notes.append("metric files are '<timestamp ms> <value> <step>' lines; the store also holds "
                 "mlruns/0/ (the Default experiment) and an empty mlruns/.trash/ that git cannot keep")
    return {"writer": versions("mlflow") + " (file store)", "point_at": ["", "mlruns"] + sorted(
        {"mlruns/" + r["root"].split("/")[1] for r in runs}), "runs": runs, "notes": notes}


def mlflow_sqlite(root: Path) -> dict:
    """What a new user gets from MLflow 3 with nothing set: sqlite:///mlflow.db in the working
    directory, artifacts under ./mlruns/."""
    import mlflow
    default = mlflow.get_tracking_uri()
    runs, notes = mlflow_runs([("baseline", "mlp-sgd-0.05", 0.05, False, "none"),
                               ("warmup-sweep", "linear-warmup-0.2", warmup(0.2), True, "none"),
                               ("warmup-sweep", "linear-warmup-0.8", warmup(0.8), True, "divergence")],
                              lambda run_id: (f"mlflow.db#{run_id}", []))
    notes.insert(0, f"no tracking URI set: MLflow used {default}; artifacts went to "
                 f"{sorted(p.name for p in root.iterdir())}")
    notes.append("a sqlite run lists no files: its metrics are rows of mlflow.db's metrics table "
                 "(run_uuid, key, value, step, is_nan)")
    return {"writer": versions("mlflow", "sqlalchemy") + " (sqlite store, the MLflow 3 default)",
            "point_at": ["", "mlflow.db"], "runs": runs, "notes": notes}


# --------------------------------------------------------------------------- Weights & Biases

def wandb_offline(root: Path) -> dict:
    """wandb.init(mode="offline") in a project folder: wandb/offline-run-<date>-<id>/."""
    import wandb
    scratch = root.parent / f".{root.name}-home"  # wandb's config and cache dirs, removed after
    os.environ["WANDB_CONFIG_DIR"] = str(scratch / "config")
    os.environ["WANDB_CACHE_DIR"] = str(scratch / "cache")
    run = wandb.init(mode="offline", project="tiny-mlp", config={"lr": 0.05, "batch_size": 16})
    for step, loss, val, rate in train_regression(60, 0.05, seed=0):
        wandb.log({"train/loss": loss, "lr": rate, **({"val/loss": val} if val is not None else {})},
                  step=step)
    run.finish()
    shutil.rmtree(scratch, ignore_errors=True)
    folder = next((root / "wandb").glob("offline-run-*"))
    links = {rel(p, root): os.readlink(p).replace(str(scratch / "cache"), "$WANDB_CACHE_DIR")
             for p in sorted(root.rglob("*")) if p.is_symlink()}
    notes = [f"wandb {version('wandb')} offline wrote {folder.name}/ with files "
             f"{files_under(folder, '*')} and empty folders git does not keep "
             f"{[rel(p, folder) for p in sorted(folder.rglob('*')) if p.is_dir() and not any(p.iterdir())]}",
             f"symlinks {links}: the relative ones resolve inside the tree; logs/debug-core.log is "
             "an absolute link into wandb's cache dir ($WANDB_CACHE_DIR, ~/.cache by default; a "
             "scratch dir under OUT_DIR here, deleted after, so the link dangles on every machine)",
             "the history (train/loss, val/loss, lr) is only in run-<id>.wandb, a binary record log",
             "listed as a run for a later W&B reader (supported: false): discovery must not take "
             "its .log or .txt files for training logs"]
    entry = run_entry(rel(folder, root), f"tiny-mlp/{folder.name.split('-')[-1]}",
                      files_under(folder, "*.wandb"))
    return {"writer": versions("wandb") + " (offline mode)", "point_at": ["", "wandb"],
            "runs": [{**entry, "supported": False}], "notes": notes}


# --------------------------------------------------------------------------- MMEngine

def mmengine_parts():
    """A BaseModel and a BaseMetric as the MMEngine 15-minute tutorial writes them."""
    import torch
    from mmengine.evaluator import BaseMetric
    from mmengine.model import BaseModel

    class TinyRegressor(BaseModel):
        def __init__(self):
            super().__init__()
            self.net = mlp()

        def forward(self, x, y, mode="tensor"):
            out = self.net(x)
            if mode == "loss":
                return {"loss": torch.nn.functional.mse_loss(out, y)}
            return [(out, y)] if mode == "predict" else out

    class MSE(BaseMetric):
        def process(self, data_batch, data_samples):
            for out, y in data_samples:
                self.results.append(((out - y) ** 2).sum().item() / len(y))

        def compute_metrics(self, results):
            return {"mse": sum(results) / len(results)}

    return TinyRegressor(), MSE()


def mmengine_workdir(root: Path) -> dict:
    """Runner(work_dir="work_dirs/<config name>"), as tools/train.py sets it from the config."""
    from mmengine.runner import Runner
    from torch.utils.data import DataLoader, TensorDataset
    seed_all(0)
    x, y = regression_data(256, 0)
    model, metric = mmengine_parts()
    runner = Runner(model=model, work_dir="work_dirs/tiny_mlp_sgd",
                    train_dataloader=DataLoader(TensorDataset(x[:192], y[:192]), batch_size=16, shuffle=True),
                    val_dataloader=DataLoader(TensorDataset(x[192:], y[192:]), batch_size=32),
                    optim_wrapper={"optimizer": {"type": "SGD", "lr": 0.05}},
                    train_cfg={"by_epoch": True, "max_epochs": 4, "val_interval": 1},
                    val_cfg={}, val_evaluator={"metrics": metric},
                    default_hooks={"logger": {"type": "LoggerHook", "interval": 4}},
                    randomness={"seed": 0})
    runner.train()
    stamp = next(p for p in (root / "work_dirs" / "tiny_mlp_sgd").iterdir() if p.is_dir())
    scalars = [json.loads(ln) for ln in (stamp / "vis_data" / "scalars.json").read_text().splitlines()]
    loss = [(r["step"], float(r["loss"])) for r in scalars if "loss" in r]
    notes = [f"the run folder is work_dirs/tiny_mlp_sgd/{stamp.name}/ (Runner's timestamp), holding "
             f"{files_under(stamp, '*')}; checkpoints and last_checkpoint sit one level up, in work_dir",
             f"scalars.json is JSON lines: train lines {sorted(next(r for r in scalars if 'loss' in r))}, "
             f"val lines {sorted(next(r for r in scalars if 'mse' in r))}, whose step is the epoch "
             f"(1..4) while a train line's step is the iteration",
             "vis_data/<timestamp>.json is a byte-for-byte twin of scalars.json: one run, two copies",
             "vis_data/scalars.json " + check_fault(fault_facts(loss, "loss"), "none")]
    cut = shrink_weights(root)
    notes.append(f"weights truncated to 0 bytes: {cut}" if cut else "checkpoints kept (each under 20 KB)")
    run = rel(stamp, root)
    return {"writer": versions("mmengine", "torch") + " (Runner, LocalVisBackend + text log)",
            "point_at": ["", "work_dirs", "work_dirs/tiny_mlp_sgd"],
            "runs": [run_entry(run, f"tiny_mlp_sgd/{stamp.name}",
                               files_under(stamp, "*.log", "*.json"))], "notes": notes}


# --------------------------------------------------------------------------- Ultralytics

def yolo_dataset(root: Path, seed: int = 0) -> Path:
    """datasets/boxes/: 64x64 noise images with one bright box each, YOLO labels, data.yaml."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    base = root / "datasets" / "boxes"
    for split, n in (("train", 8), ("val", 4)):
        (base / "images" / split).mkdir(parents=True)
        (base / "labels" / split).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 60, (64, 64, 3), dtype=np.uint8)
            w, h = rng.integers(16, 32, 2)
            x0, y0 = rng.integers(0, 64 - w), rng.integers(0, 64 - h)
            img[y0:y0 + h, x0:x0 + w] = (230, 200, 40)
            Image.fromarray(img).save(base / "images" / split / f"{split}_{i}.png")
            (base / "labels" / split / f"{split}_{i}.txt").write_text(
                f"0 {(x0 + w / 2) / 64:.6f} {(y0 + h / 2) / 64:.6f} {w / 64:.6f} {h / 64:.6f}\n")
    data = root / "data.yaml"
    data.write_text(f"path: {base}\ntrain: images/train\nval: images/val\nnames:\n  0: box\n")
    return data


def ultralytics_project(root: Path) -> dict:
    """Two trainings of a yolov8n built from its yaml (no weights fetched), project defaults
    except runs_dir (see notes); the second after `yolo settings tensorboard=True`."""
    scratch = root.parent / f".{root.name}-config"
    os.environ["YOLO_CONFIG_DIR"] = str(scratch)  # a fresh settings.json: a new user's defaults
    from ultralytics import YOLO, settings
    defaults = {k: settings[k] for k in ("mlflow", "tensorboard", "wandb")}
    settings.update({"runs_dir": str(root / "runs")})
    data = yolo_dataset(root)
    dirs = []
    for seed, tensorboard in enumerate((False, True)):
        settings.update({"tensorboard": tensorboard})
        model = YOLO("yolov8n.yaml")
        model.train(data=str(data), epochs=3, imgsz=64, batch=4, workers=0, device="cpu",
                    plots=False, seed=seed, deterministic=True, verbose=False)
        dirs.append(Path(model.trainer.save_dir))
    shutil.rmtree(scratch, ignore_errors=True)
    return ultralytics_manifest(root, dirs, defaults)


def ultralytics_manifest(root: Path, dirs: list[Path], defaults: dict) -> dict:
    import mlflow
    from mlflow.tracking import MlflowClient
    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    client = MlflowClient()
    tracked = {r.info.run_name: r for e in client.search_experiments()
               for r in client.search_runs([e.experiment_id])}
    runs, notes = [], [f"fresh settings: {defaults}; runs_dir defaults to <git root of the working "
                       "directory>/runs, or ./runs outside git (set to this folder's runs/ here, "
                       "as the fixtures live inside a git repository)",
                       "the second training of the same name went to runs/detect/train-2: "
                       "Ultralytics 8.4 increments with a '-' (older releases wrote train2)"]
    for folder in dirs:
        loss = csv_series(folder / "results.csv", "train/box_loss", step="epoch")
        require(all(math.isfinite(v) for _, v in loss), f"{folder.name}: non-finite box loss")
        mlrun = tracked[folder.name]
        notes.append(f"{rel(folder, root)}: {files_under(folder, '*')}; results.csv train/box_loss "
                     f"{[round(v, 4) for _, v in loss]}; MLflow run '{folder.name}' "
                     f"({mlrun.info.run_id}) in experiment "
                     f"'{client.get_experiment(mlrun.info.experiment_id).name}' with metrics "
                     f"{sorted(mlrun.data.metrics)}")
        copies = next(root.glob(f"mlruns/*/{mlrun.info.run_id}/artifacts"))
        runs.append(run_entry(rel(folder, root), rel(folder, root), files_under(
            folder, "results.csv", "args.yaml", "events.out.tfevents.*"), step_unit="epoch")
            | {"also": [f"mlflow.db#{mlrun.info.run_id}"] + [
                f"{rel(copies, root)}/{f}" for f in files_under(copies, "results.csv", "args.yaml")]})
    cut = shrink_weights(root)
    notes.append(f"weights truncated to 0 bytes: {cut}")
    notes.append("the MLflow callback (on by default) logged each training into ./mlflow.db "
                 "(MLflow's default URI, in the working directory, not in runs/) with artifacts "
                 "(weights, results.csv, args.yaml) copied under ./mlruns/<exp>/<run>/artifacts/; "
                 "each training is ONE run: runs/detect/<name>, the mlflow.db run of that name and "
                 "the copies in its artifacts (listed under 'also')")
    return {"writer": versions("ultralytics", "torch", "torchvision", "mlflow", "tensorboard"),
            "point_at": ["", "runs", "runs/detect"], "runs": runs, "notes": notes}


# --------------------------------------------------------------------------- runner

CASES = {
    "lightning_two_loggers": lightning_two_loggers,
    "lightning_two_loggers_split": lightning_two_loggers_split,
    "lightning_named": lightning_named,
    "summarywriter_runs": summarywriter_runs,
    "keras_fit_tb": keras_fit_tb,
    "keras_csvlogger_nested": keras_csvlogger_nested,
    "hf_output_dir": hf_output_dir,
    "hf_many_outputs": hf_many_outputs,
    "mlflow_file_store": mlflow_file_store,
    "mlflow_sqlite": mlflow_sqlite,
    "wandb_offline": wandb_offline,
    "mmengine_workdir": mmengine_workdir,
    "ultralytics_project": ultralytics_project,
}


def prefix(case: str, path: str) -> str:
    return f"{case}/{path}" if path else case


def claimed(root: Path, runs: list[dict]) -> set[str]:
    """Files (relative to the case folder) that belong to some run: its listed log files,
    or the run's own file when its root is a file (a CSV, an sqlite store '#' a run id)."""
    paths = set()
    for r in runs:
        base = r["root"].split("#")[0]
        paths |= {Path(os.path.normpath(Path(base) / f)).as_posix() for f in r["files"]}
        paths |= {a.split("#")[0] for a in r.get("also", [])}  # the same run in another store
        if (root / base).is_file():
            paths.add(base)
    return paths


def manifest(case: str, root: Path, found: dict) -> dict:
    """The yaml beside the tree: every path made relative to OUT_DIR (the case's parent).
    not_runs is every other file in the tree (checkpoints, configs, data, tracker debris)."""
    runs = [{**r, "root": prefix(case, r["root"])} |
            ({"also": [prefix(case, a) for a in r["also"]]} if "also" in r else {})
            for r in found["runs"]]
    taken = claimed(root, found["runs"])
    others = [f for f in files_under(root, "*") if f not in taken]
    return {"writer": found["writer"], "made_by": f"benchmarks/real_writers.py --only {case}",
            "point_at": [prefix(case, p) for p in found["point_at"]], "runs": runs,
            "not_runs": others, "notes": " ".join(  # no path of the machine that wrote it
                (n if n.endswith(".") else n + ".").replace(str(root), f"<{case}>")
                for n in found["notes"])}


def write_case(case: str, out: Path) -> None:
    """Run one case in this interpreter: a fresh case folder as the working directory."""
    import yaml
    root = out / case
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    os.chdir(root)
    found = CASES[case](root)
    os.chdir(out)
    text = yaml.safe_dump(manifest(case, root, found), sort_keys=False, width=100, allow_unicode=True)
    (out / f"{case}.yaml").write_text(text)
    print(f"{case}: {len(found['runs'])} run(s) written", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="OUT_DIR (tests/data/layouts)")
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--case-python", action="append", default=[], metavar="CASE=PYTHON",
                    help="interpreter for one case (ultralytics_project needs torchvision)")
    ap.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    out = args.out.resolve()
    names = [n for n in args.only.split(",") if n] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {unknown}; known: {', '.join(CASES)}")
    if args.in_process:
        for name in names:
            write_case(name, out)
        return 0
    pythons = dict(kv.split("=", 1) for kv in args.case_python)
    failed = []
    for name in names:  # one fresh interpreter per case: torch, TF and the trackers keep globals
        cmd = [pythons.get(name, sys.executable), __file__, "--in-process", "--only", name, str(out)]
        if subprocess.run(cmd, env={**os.environ, **ENV}).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
