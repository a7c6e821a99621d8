"""Write a training history the way real tools do: Keras CSVLogger, Lightning CSVLogger,
HF Trainer `trainer_state.json`, and TensorBoard through torch's own SummaryWriter.

A history is two lists of dicts: `steps` (one per optimiser step: step, epoch, loss,
grad_norm, lr) and `epochs` (one per epoch: epoch, step, loss, acc, val_loss, val_acc).
Missing keys are simply not logged. Used by benchmarks/make_runs.py only.
"""

from __future__ import annotations

import json
import math
from pathlib import Path


def _cell(v: float | None) -> str:
    """Keras writes 'NA' for a value it did not get, repr-like floats otherwise."""
    return "NA" if v is None else repr(float(v))


def keras_csv(folder: Path, steps: list[dict], epochs: list[dict]) -> None:
    """`training_log.csv` as keras.callbacks.CSVLogger writes it (sorted keys after epoch)."""
    keys = sorted({k for e in epochs for k in e} - {"epoch", "step"})
    names = {"loss": "loss", "acc": "accuracy", "val_loss": "val_loss", "val_acc": "val_accuracy"}
    cols = sorted(keys, key=lambda k: names[k])
    lines = ["epoch," + ",".join(names[k] for k in cols)]
    lines += [f"{e['epoch']}," + ",".join(_cell(e.get(k)) for k in cols) for e in epochs]
    (folder / "training_log.csv").write_text("\n".join(lines) + "\n")


def lightning_csv(folder: Path, steps: list[dict], epochs: list[dict], every: int = 10) -> None:
    """`metrics.csv` as Lightning's CSVLogger writes it: sparse rows, *_step/*_epoch twins."""
    cols = ["epoch", "step", "train_loss_step", "lr-Adam", "val_loss", "val_acc",
            "train_loss_epoch"]
    rows = []
    for s in steps:
        if (s["step"] + 1) % every == 0:
            rows.append({"epoch": int(s["epoch"]), "step": s["step"], "train_loss_step": s["loss"],
                         "lr-Adam": s["lr"]})
    for e in epochs:
        at = {"epoch": e["epoch"], "step": e["step"]}
        if "val_loss" in e:
            rows.append({**at, "val_loss": e["val_loss"], "val_acc": e.get("val_acc")})
        rows.append({**at, "train_loss_epoch": e["loss"]})
    rows.sort(key=lambda r: (r["step"], "train_loss_step" not in r))
    fmt = lambda v: "" if v is None else (str(v) if isinstance(v, int) else repr(float(v)))  # noqa: E731
    lines = [",".join(cols)] + [",".join(fmt(r.get(c)) for c in cols) for r in rows]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")


def hf_trainer_state(folder: Path, steps: list[dict], epochs: list[dict], every: int = 10,
                     nan_filter: bool = True) -> None:
    """`trainer_state.json` as transformers.Trainer writes it.

    The logged loss is the mean over the logging window; with `logging_nan_inf_filter`
    (the Trainer's default) a non-finite step loss is replaced by the running average of
    the window so far, exactly as `Trainer._inner_training_loop` does. `grad_norm` is the
    norm of the last step of the window, unfiltered.
    """
    history, tr_loss, last = [], 0.0, 0
    evals = {e["step"]: e for e in epochs if "val_loss" in e}
    for s in steps:
        gs = s["step"] + 1  # Trainer's global_step counts from 1
        loss = s["loss"]
        if nan_filter and not math.isfinite(loss):
            tr_loss += tr_loss / (1 + gs - 1 - last)
        else:
            tr_loss += loss
        if gs % every == 0:
            history.append({"epoch": round(s["epoch"], 4), "grad_norm": s["grad_norm"],
                            "learning_rate": s["lr"], "loss": round(tr_loss / (gs - last), 4),
                            "step": gs})
            tr_loss, last = 0.0, gs
        if s["step"] in evals:
            e = evals[s["step"]]
            history.append({"epoch": round(s["epoch"], 4), "eval_loss": e["val_loss"],
                            "eval_runtime": 0.41, "eval_samples_per_second": 880.5,
                            "eval_steps_per_second": 27.5, "step": gs})
    n = len(steps)
    history.append({"epoch": float(epochs[-1]["epoch"] + 1), "step": n, "total_flos": 1.0e12,
                    "train_loss": _mean_finite([s["loss"] for s in steps]),
                    "train_runtime": 12.3, "train_samples_per_second": 400.0,
                    "train_steps_per_second": 12.5})
    state = {"best_metric": None, "best_model_checkpoint": None, "epoch": float(len(epochs)),
             "eval_steps": None, "global_step": n, "is_hyper_param_search": False,
             "is_local_process_zero": True, "is_world_process_zero": True,
             "log_history": history, "logging_steps": every, "max_steps": n,
             "num_train_epochs": len(epochs), "save_steps": 500, "total_flos": 1.0e12,
             "train_batch_size": 32, "trial_name": None, "trial_params": None}
    (folder / "trainer_state.json").write_text(json.dumps(state, indent=2, allow_nan=True))


def _mean_finite(values: list[float]) -> float:
    ok = [v for v in values if math.isfinite(v)]
    return sum(ok) / len(ok) if ok else float("nan")


def tensorboard(folder: Path, steps: list[dict], epochs: list[dict], every: int = 10) -> None:
    """Event file written by torch.utils.tensorboard.SummaryWriter (step and epoch tags)."""
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(log_dir=str(folder), filename_suffix=".run")
    for s in steps:
        if (s["step"] + 1) % every == 0:
            w.add_scalar("train/loss", s["loss"], s["step"])
            w.add_scalar("train/lr", s["lr"], s["step"])
    for e in epochs:
        for key, tag in (("val_loss", "val/loss"), ("val_acc", "val/accuracy")):
            if key in e:
                w.add_scalar(tag, e[key], e["step"])
    w.close()


WRITERS = {"keras": keras_csv, "lightning": lightning_csv, "hf": hf_trainer_state,
           "tb": tensorboard}
