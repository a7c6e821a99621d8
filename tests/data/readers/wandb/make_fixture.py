"""How the committed W&B fixture was made (run once by hand; the run folder name has the date and id).

    WANDB_MODE=offline WANDB_DIR=<tmp> WANDB_SILENT=true python make_fixture.py
    cp <tmp>/wandb/offline-run-*/run-*.wandb -> offline-run-<date>-<id>/
"""

import wandb

run = wandb.init(project="p", name="demo")
for i in range(20):
    row = {"loss": 1.0 / (i + 1), "lr": 1e-3}
    if i == 5:
        row["loss"] = float("nan")
    if i == 6:
        row["loss"] = float("inf")
    if i % 5 == 0:
        row["val/loss"] = 2.0 / (i + 1)
    wandb.log(row, step=i * 10)
wandb.log({"acc": 0.5})
run.summary["best"] = 0.1
run.finish()
