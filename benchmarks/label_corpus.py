"""Write tests/data/corpus/labels.yaml: the by-eye labels of the corpus MANIFEST, mapped to
the development set's vocabulary and schema, with key steps computed from the files.

    .venv/bin/python benchmarks/label_corpus.py           # rewrite labels.yaml
    .venv/bin/python benchmarks/label_corpus.py --show    # print it instead

The MANIFEST (copied unchanged as tests/data/corpus/MANIFEST.yaml) is the reference: its
labels are mapped by MAPPING below, never replaced. Where we read a run differently, the
MANIFEST label stays in `expected` and our reading goes to `acceptable` (with its reason)
or to `disputed` (with the numbers). Key steps are computed with the development set's
definitions (label_measure.py) from the files, read by small readers of our own, not by
lossdoctor.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import label_measure as lm  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "corpus"

MAPPING = {
    "healthy": "expected healthy",
    "plateau": "expected plateau_late; acceptable plateau_late when the MANIFEST also says healthy (a converged "
               "run: the development set calls a flat tail at convergence healthy)",
    "overfitting": "expected overfitting + early_stopping_point (early_stopping_window on the val series the "
                   "MANIFEST reading names)",
    "overfitting_mild": "acceptable overfitting + early_stopping_point (a rise of a few %: the development set keeps "
                        "a ~7% rise acceptable, not expected)",
    "oscillating": "expected oscillation",
    "divergence": "expected divergence (divergence_window on the train loss)",
    "nan": "expected nan_loss when the NaN is in a loss (the vocabulary's nan_loss: a non-finite train/val loss or "
           "grad_norm), with nan_step; acceptable nan_loss when the MANIFEST reading puts it in metric columns only",
    "not_learning": "expected not_learning",
    "loss_spike": "expected loss_spike (spike_window around the spike the MANIFEST reading names)",
    "val_better_than_train": "acceptable train_val_gap_inverted when the MANIFEST also says healthy (the development "
                             "set's precedent: val below train under regularisation is healthy with an acceptable "
                             "inverted gap); expected otherwise",
    "noisy": "no label (large step-to-step variance is not a fault; the issue calls per-step noise over a falling "
             "trend at most an info note)",
    "memorization": "no label (train loss -> ~0 on a tiny set, mostly without validation: nothing to check)",
    "early_instability": "no label (a huge start that settles is neither a divergence nor a spike)",
    "grad_explosion_suspect": "no label (a large but finite gradient norm; the vocabulary has no label for it)",
    "resumed_or_appended": "no label (a reader concern: restarts in the step/epoch counter)",
}


@dataclass
class Reading:
    """Our notes on one run: where its key steps are read, extra readings, disagreements."""

    series: dict[str, str] = field(default_factory=dict)   # key-step label -> column / tag / key
    spike_at: float | None = None     # first point of the spike the MANIFEST names
    spike_span: float = 80            # the pre-spike stretch the baseline is taken over (x units)
    acceptable: dict[str, str] = field(default_factory=dict)
    disputed: str | None = None


READINGS: dict[str, Reading] = {
    "hf_trainer-dnabert2_cls_trainer_state": Reading({"overfitting": "eval_loss"}),
    "hf_trainer-whisper_large_v2_ja_trainer_state": Reading({"overfitting": "eval_loss"}),
    "hf_trainer-whisper_small_hi_trainer_state": Reading({"overfitting": "eval_loss"}),
    "jsonl-mae_linprobe_core50_a_vitb16_log": Reading({"overfitting": "test_loss"}),
    "jsonl-mae_linprobe_core50_s_vits16_log": Reading({"overfitting": "test_loss"}),
    "keras_csv-tomato_leaf_cnn_training_log": Reading({"overfitting": "val_loss"}),
    "yolo-wheat_weed_v8_results": Reading({"overfitting": "val/box_loss"}),
    "keras_csv-fruit_freshness_noepoch_training_history": Reading(
        {"overfitting": "val_loss"},
        acceptable={"loss_spike": "the train loss jumps from 9.9e-5 (row 33) to 0.042 at row 34 (426x), then 0.0040, "
                                  "6.3e-4, 3.4e-4: a real, if harmless, spike that recovers within three epochs"}),
    "keras_csv-ftc_unet_nan_metric_training_history": Reading(
        {"overfitting": "val_loss"},
        disputed="the val minimum 0.00893 at epoch 8 is one dip between 0.0136-0.0146 (epochs 0-4) and 0.0484 "
                 "(epoch 9); by the development set's definition the early-stopping window is that single point"),
    "lightning-camels_domain_adapt_v24_diverge_metrics": Reading({"divergence": "train_loss"}),
    "lightning-pinn_em_v14_nan_metrics": Reading(
        {"nan_loss": "mean_loss"},
        acceptable={"unscaled_targets": "the PINN loss starts at 2.87e12 and spans 12 orders of magnitude"}),
    "yolo-courtvision_val_nan_results": Reading({"nan_loss": "val/box_loss"}),
    "hf_trainer-trocr_huge_gradnorm_trainer_state": Reading({"loss_spike": "loss"}, spike_at=682),
    "plain_csv-bg_removal_attempt2_spike_training_log": Reading(
        {"loss_spike": "avg_loss"}, spike_at=46, spike_span=14),  # baseline: the ~0.08-0.10 stretch of epochs 32-45
    "tensorboard-tf2_odapi_ssd_mobnet_train": Reading(
        {"loss_spike": "Loss/total_loss"}, spike_at=1300, spike_span=500,  # 20 points 100 steps apart: 5 before
        disputed="1.524 at step 1300 is 2.1x the previous point, but these are 20 single-batch samples 100 steps "
                 "apart that swing 0.65-1.35 elsewhere (1.350 at 1900): we cannot tell it from batch noise"),
    "tensorboard-tf2_odapi_mobile320_train": Reading(
        disputed="20 single-batch samples 100 steps apart: the swings (1.27 -> 1.91 during the warm-up, then "
                 "0.88-1.36, 0.612 at 1800, 1.044 at 2000) are batch noise as much as oscillation; 20 points "
                 "cannot show a pattern"),
    "hf_trainer-law_llm_early_instability_trainer_state": Reading(
        acceptable={"train_val_gap_inverted": "the logged train loss stays far above eval_loss: 5.02 vs 0.304 at "
                                              "the end (16x), above it at every evaluation"}),
    "hf_trainer-lora_token_compressor_trainer_state": Reading(
        acceptable={"not_learning": "2.254 at step 10, 2.282 at step 1000, never 10% below its start over 1000 "
                                    "steps: nothing was learnt, rather than a plateau after progress"}),
    "lightning-turngpt_noisy_metrics": Reading(
        acceptable={"not_learning": "first-half mean 2.355 vs second-half mean 2.245 (-5%) over 50 noisy points: "
                                    "between a plateau and not learning"},
        disputed="plateau: 50 batch samples that swing 1.24-3.15 (sd 0.42, about 18% of the level): a line's change "
                 "over the 25 points of the second half is uncertain by +-25% (95%), so no flatness at 2% or 5% can "
                 "be shown; the log does not show the drop a plateau comes after (its first point is step 49)"),
    "hf_trainer-falcon_lora_imdb_trainer_state": Reading(
        disputed="plateau: 12 points; the whole log falls 9.9% (Mann-Kendall p = 0.0016), its second half -4.0% "
                 "(Theil-Sen over 6 points, p = 0.71; -8% to 0% at 95%), bringing 26% of the first half's fall "
                 "under a rate decaying linearly to 0: neither flat (2%) nor converged (a tenth) by what 12 points show"),
    "keras_csv-action_emotion_near_chance_training_log": Reading(
        acceptable={"overfitting": "val_loss min 2.109 at epoch 24, 2.319 at the end (+10%)",
                    "early_stopping_point": "val_loss min 2.109 at epoch 24, 2.319 at the end (+10%)"}),
    "keras_csv-stock_lstm_frozen_model_history_log": Reading(
        acceptable={"train_val_gap_inverted": "train 0.487 vs val 0.161, constant: a property of this split"}),
    "keras_csv-speech_digit_semicolon_model_history_log": Reading(
        disputed="val_loss ends at 0.1738, +21% above its minimum 0.1439 at epoch 6, while the train loss falls "
                 "monotonically: beyond the MANIFEST vocabulary's own >10% for overfitting, though labeled mild"),
    "plain_csv-hevisum_fold3_training_log": Reading(
        acceptable={"data_problem": "TrainLoss falls 112.0 -> 33.6 (-70%) while ValLoss swings 67-108 with no trend: "
                                    "the validation does not follow the training",
                    "unscaled_targets": "losses in the tens to hundreds (TrainLoss 112 at the start)"},
        disputed="not_learning: the training does learn (TrainLoss 112.0 -> 33.6, monotone); only the validation "
                 "does not improve; we read data_problem, kept acceptable"),
    "yolo-yolov5_aus_bills_300ep_results": Reading(
        disputed="overfitting_mild: val/cls_loss min 0.001688 at epoch 110 -> 0.0041 at the end (2.4x) while "
                 "train/cls keeps falling: more than mild for the classification term (box/mAP still improve)"),
    "yolo-yolov5_helmet_singlecls_results": Reading(
        acceptable={"overfitting": "val/obj_loss min 0.00897 at epoch 65 -> 0.0106 at the end (+18%, a steady "
                                   "climb) while train/obj falls; mAP still creeps up",
                    "early_stopping_point": "val/obj_loss min 0.00897 at epoch 65 -> 0.0106 at the end (+18%)"}),
    "hf_trainer-geollm_ptuning_memorize_trainer_state": Reading(
        acceptable={"plateau_late": "the loss sits at 0.002-0.004 for the last 1500 of 3000 steps"}),
}


# ---- readers (only the layouts whose key steps are computed) -------------------------------

def run_file(run: str) -> Path:
    files = [p for p in (CORPUS / "runs" / run).rglob("*") if p.is_file()]
    return files[0]


def read_columns(run: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{column: (x, values)} in the file's own x-axis (see X_AXIS)."""
    kind, path = run.split("-", 1)[0], run_file(run)
    if kind == "hf_trainer":
        hist = [r for r in json.loads(path.read_text())["log_history"] if "train_runtime" not in r]
        keys = {k for r in hist for k in r} - {"step", "epoch"}
        return {k: _xy([(r["step"], r[k]) for r in hist if k in r]) for k in keys}
    if kind == "jsonl":
        recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        keys = {k for r in recs for k in r} - {"epoch"}
        return {k: _xy([(r["epoch"], r[k]) for r in recs if k in r]) for k in keys}
    if kind == "tensorboard":
        return _read_tb_tensors(path.parent)
    return _read_csv(path, {"lightning": "step"}.get(kind, "epoch"))


def _xy(pts: list) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([p[0] for p in pts], float),
            np.array([np.nan if p[1] is None else p[1] for p in pts], float))


def _read_csv(path: Path, xcol: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Text first: an empty cell is 'not logged on this row', 'nan' a logged NaN."""
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    df.columns = [c.strip() for c in df.columns]
    df = df.apply(lambda col: col.str.strip())
    out = {}
    for col in df.columns:
        if col == xcol:
            continue
        rows = df[df[col] != ""] if xcol in df else df
        x = rows[xcol].astype(float).to_numpy() if xcol in df else np.arange(len(rows), dtype=float)
        if xcol in df:
            keep = rows[xcol] != ""
            rows, x = rows[keep.to_numpy()], x[keep.to_numpy()]
        out[col] = (x, pd.to_numeric(rows[col], errors="coerce").to_numpy(float))
    return out


def _read_tb_tensors(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """TF2 summaries store scalars as tensors (the scalars plugin), not simple_value."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags().get("tensors", []):
        ev = acc.Tensors(tag)
        vals = [tensor_util.make_ndarray(e.tensor_proto) for e in ev]
        if all(v.size == 1 for v in vals):
            out[tag] = (np.array([e.step for e in ev], float), np.array([float(v) for v in vals]))
    return out


X_AXIS = ("hf_trainer_state = 'step' (global step); jsonl (MAE log.txt) = 'epoch'; keras_csv = the 'epoch' "
          "column, or the row index (0-based) when there is none; ultralytics results.csv = 'epoch' as written; "
          "lightning_csv = the 'step' column; plain csv = 'epoch'; tensorboard = the step written")


# ---- key steps -----------------------------------------------------------------------------

def key_steps(run: str, expected: list[str], reading: Reading) -> tuple[dict, dict]:
    """(key_steps, measured numbers behind them) for the expected labels that have an onset."""
    ks, measured = {}, {}
    if not reading.series:
        return ks, measured
    cols = read_columns(run)
    if "overfitting" in expected and "overfitting" in reading.series:
        x, v = cols[reading.series["overfitting"]]
        fin = np.isfinite(v)
        vmin = float(v[fin].min())
        near = x[fin & (v <= 1.02 * vmin)]
        ks["early_stopping_window"] = [_int(near.min()), _int(near.max())]
        measured["val_series"] = reading.series["overfitting"]
        measured.update(val_min=round(vmin, 6), val_argmin_step=_int(x[fin][np.argmin(v[fin])]),
                        val_final=round(float(v[fin][-1]), 6))
    if "nan_loss" in expected and "nan_loss" in reading.series:
        x, v = cols[reading.series["nan_loss"]]
        ks["nan_step"] = _int(x[np.flatnonzero(~np.isfinite(v))[0]])
        measured["nan_series"] = reading.series["nan_loss"]
    if "divergence" in expected and "divergence" in reading.series:
        c = lm.Curves("lightning_csv")
        c.put("train_loss", reading.series["divergence"], *cols[reading.series["divergence"]])
        m = lm.measure(c)
        ks.update(lm.key_steps(m, ["divergence"]))
        measured.update({k: _r(v) for k, v in m.items() if k.startswith(("train_", "divergence"))})
    if "loss_spike" in expected and reading.spike_at is not None:
        c = lm.Curves("any")
        c.put("train_loss", reading.series["loss_spike"], *cols[reading.series["loss_spike"]])
        m: dict = {}
        lm.measure_spike(m, c, reading.spike_at, reading.spike_span)
        ks.update(lm.key_steps(m, ["loss_spike"]))
        measured.update({k: _r(v) for k, v in m.items()}, spike_series=reading.series["loss_spike"],
                        spike_baseline_span=reading.spike_span)
    return ks, measured


def _int(x: float):
    return int(x) if float(x).is_integer() else float(x)


def _r(v):
    return round(float(v), 6) if isinstance(v, (float, np.floating)) else v


# ---- the mapping -----------------------------------------------------------------------------

MILD = "a rise of a few % from the minimum (MANIFEST: overfitting_mild)"


def map_labels(manifest: list[str], nan_in_loss: bool) -> tuple[list[str], dict[str, str]]:
    """(expected, acceptable with reasons) from the MANIFEST labels, by MAPPING."""
    healthy = "healthy" in manifest
    expected: list[str] = ["healthy"] if healthy else []
    acceptable: dict[str, str] = {}
    for lab in manifest:
        if lab == "plateau":
            if healthy:
                acceptable["plateau_late"] = "MANIFEST: healthy and plateau, i.e. converged with a flat tail"
            else:
                expected.append("plateau_late")
        elif lab == "overfitting":
            expected += ["overfitting", "early_stopping_point"]
        elif lab == "overfitting_mild":
            acceptable.update(overfitting=MILD, early_stopping_point=MILD)
        elif lab == "oscillating":
            expected.append("oscillation")
        elif lab in ("divergence", "not_learning", "loss_spike"):
            expected.append(lab)
        elif lab == "nan":
            if nan_in_loss:
                expected.append("nan_loss")
            else:
                acceptable["nan_loss"] = "MANIFEST: nan, in metric columns only (no loss is non-finite)"
        elif lab == "val_better_than_train":
            if healthy:
                acceptable["train_val_gap_inverted"] = "MANIFEST: healthy, with val below train throughout"
            else:
                expected.append("train_val_gap_inverted")
        elif lab not in MAPPING:
            raise ValueError(f"MANIFEST label {lab!r} has no mapping")
    return expected, acceptable


NAN_OUTSIDE_LOSSES = {"keras_csv-ftc_unet_nan_metric_training_history"}  # MANIFEST: "NaN in metrics only"


def manifest_by_run() -> dict[str, list[dict]]:
    """MANIFEST entries per run folder (the three MLflow metric files are one run)."""
    out: dict[str, list[dict]] = {}
    for f in yaml.safe_load((CORPUS / "MANIFEST.yaml").read_text())["files"]:
        fmt, rest = f["file"].split("/", 1)
        if fmt == "mlflow":
            run = "mlflow-" + rest.split("/")[0]
        else:
            stem = rest
            for suffix in (".csv", ".json", ".txt"):
                stem = stem[: -len(suffix)] if stem.endswith(suffix) else stem
            stem = stem.split("_events")[0] if fmt == "tensorboard" else stem
            run = f"{fmt}-{stem}"
        out.setdefault(run, []).append(f)
    return out


def build() -> dict:
    runs = sorted(p.name for p in (CORPUS / "runs").iterdir() if p.is_dir())
    manifest = manifest_by_run()
    if set(runs) != set(manifest):
        raise SystemExit(f"runs without a MANIFEST entry: {sorted(set(runs) - set(manifest))}; "
                         f"MANIFEST entries without a run: {sorted(set(manifest) - set(runs))}")
    out = {}
    for run in runs:
        entries = manifest[run]
        labels = list(dict.fromkeys(lab for e in entries for lab in e["labels"]))
        expected, acceptable = map_labels(labels, run not in NAN_OUTSIDE_LOSSES)
        reading = READINGS.get(run, Reading())
        for lab, why in reading.acceptable.items():
            if lab not in expected:
                acceptable.setdefault(lab, "our reading: " + why)
        ks, measured = key_steps(run, expected, reading)
        entry = {"format": entries[0]["format"], "files": [e["file"] for e in entries],
                 "source": [e["url"] for e in entries], "manifest_labels": labels,
                 "expected": expected, "acceptable": sorted(acceptable), "key_steps": ks,
                 "verification": {"manifest_reading": [e["reading"] for e in entries],
                                  "acceptable": dict(sorted(acceptable.items())), "measured": measured}}
        if reading.disputed:
            entry["disputed"] = reading.disputed
        out[run] = entry
    return {"description": DESCRIPTION, "mapping": MAPPING, "canonical_labels": CANONICAL, "runs": out}


DESCRIPTION = (
    "lossdoctor corpus: real training logs of public projects (tests/data/corpus/runs, provenance in MANIFEST.yaml). "
    "Labels: the MANIFEST's by-eye labels, mapped to the development set's vocabulary by `mapping`; never replaced "
    "by a reading of ours (those are in `acceptable` with the reason, or in `disputed` with the numbers). Written "
    "by benchmarks/label_corpus.py. key_steps use the development set's definitions, in each file's own x-axis: "
    + X_AXIS + ".")
CANONICAL = ["healthy", "overfitting", "divergence", "nan_loss", "not_learning", "plateau_late", "oscillation",
             "loss_spike", "underfitting", "lr_too_low", "train_val_gap_inverted", "data_problem",
             "unscaled_targets", "early_stopping_point"]


def main(argv: list[str]) -> None:
    text = yaml.safe_dump(build(), sort_keys=False, width=110, allow_unicode=True)
    if "--show" in argv:
        print(text)
        return
    (CORPUS / "labels.yaml").write_text("# Written by benchmarks/label_corpus.py -- edit that script, not this file.\n"
                                        + text)
    print(f"wrote {CORPUS / 'labels.yaml'}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
