"""The callbacks, each with its real framework on a tiny model on CPU.

A run made to diverge (a huge learning rate) must be stopped at the step where the
callback's judgement first found an error; a healthy run must train to its end without a
warning or an error. Tiny models, seeded: each run takes about a second.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is first imported

pytestmark = pytest.mark.slow
REQUIRED = os.environ.get("LOSSDOCTOR_REQUIRE_FRAMEWORKS") == "1"  # CI: a missing framework fails


def need(module: str):  # type: ignore[no-untyped-def]
    if REQUIRED:
        return __import__(module, fromlist=["_"])
    return pytest.importorskip(module)


def assert_stopped_where_it_fired(cb, steps_trained: int) -> None:  # type: ignore[no-untyped-def]
    """Stopped at the step of the judgement that first found an error, with training stopping there."""
    assert cb.stopped_at is not None and cb.stopped_at == steps_trained
    errors = [rules for _, rules in cb.judge.judgements]
    step, last = cb.judge.judgements[-1]
    assert step == cb.stopped_at
    assert {"nan_loss", "divergence"} & last
    severities = {f.rule: f.severity.label for f in cb.findings}
    assert "error" in severities.values()
    for _, rules in cb.judge.judgements[:-1]:  # no earlier judgement had an error
        assert not [r for r in rules if r in ("nan_loss", "divergence")], errors


def assert_healthy(cb) -> None:  # type: ignore[no-untyped-def]
    assert cb.stopped_at is None
    assert len(cb.judge.judgements) >= 2
    assert not [f for f in cb.findings if f.severity.label in ("warning", "error")], cb.findings


def _regression(n: int = 512):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)) / np.sqrt(8) + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    return x, y


# --- Keras 3 (torch backend) ---------------------------------------------------------------

def _keras_fit(lr: float):  # type: ignore[no-untyped-def]
    keras = need("keras")
    from lossdoctor.integrations.keras import LossDoctor

    keras.utils.set_random_seed(0)
    x, y = _regression()
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    cb = LossDoctor(every=5, stop_on="error", verbose=0)
    model.fit(x, y, batch_size=16, epochs=4, validation_split=0.2, verbose=0, callbacks=[cb])
    return model, cb


def test_keras_stops_a_diverging_run_where_the_rule_fires() -> None:
    model, cb = _keras_fit(lr=50.0)
    assert model.stop_training
    assert_stopped_where_it_fired(cb, cb.step)
    assert cb.step < 4 * 26


def test_keras_lets_a_healthy_run_train_to_its_end() -> None:
    model, cb = _keras_fit(lr=0.05)
    assert cb.step == 4 * 26  # 410 training samples in batches of 16, four epochs
    assert_healthy(cb)
    assert "val_loss" in cb.judge.points  # the epoch logs' validation loss is judged too


# --- Lightning ----------------------------------------------------------------------------

def _lightning_fit(lr: float, tmp_path):  # type: ignore[no-untyped-def]
    torch = need("torch")
    pl = need("lightning.pytorch")
    from lossdoctor.integrations.lightning import LossDoctor

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))

        def training_step(self, batch, _):  # type: ignore[no-untyped-def]
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, _):  # type: ignore[no-untyped-def]
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch[0]), batch[1]))

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.SGD(self.parameters(), lr=lr)

    torch.manual_seed(0)
    x, y = (torch.from_numpy(a) for a in _regression())
    data = torch.utils.data.TensorDataset(x, y)
    cb = LossDoctor(every=5, stop_on="error", verbose=0)
    csv = pl.loggers.CSVLogger(str(tmp_path))
    trainer = pl.Trainer(max_epochs=3, callbacks=[cb], logger=csv, log_every_n_steps=1, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=str(tmp_path), accelerator="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=16),
                    torch.utils.data.DataLoader(data, batch_size=128))
    return trainer, cb, csv


def test_lightning_stops_a_diverging_run_where_the_rule_fires(tmp_path) -> None:  # type: ignore[no-untyped-def]
    trainer, cb, csv = _lightning_fit(50.0, tmp_path)
    assert trainer.should_stop
    assert_stopped_where_it_fired(cb, trainer.global_step)
    assert trainer.loggers == [csv]  # the collector is gone again


def test_lightning_lets_a_healthy_run_train_to_its_end_and_judges_what_the_logger_got(tmp_path) -> None:  # type: ignore[no-untyped-def]
    trainer, cb, csv = _lightning_fit(0.05, tmp_path)
    assert trainer.global_step == 3 * 32
    assert_healthy(cb)
    from lossdoctor.sources import read_run

    logged = read_run(os.path.join(csv.log_dir, "metrics.csv"))  # what the CSV logger wrote
    for name in ("train_loss", "val_loss"):
        np.testing.assert_allclose(cb.judge.run().series[name].values, logged.series[name].values, rtol=1e-6)


# --- HF Transformers (a model built from a config: no download) -----------------------------

def _hf_train(lr: float, tmp_path):  # type: ignore[no-untyped-def]
    torch = need("torch")
    transformers = need("transformers")
    from lossdoctor.integrations.transformers import LossDoctorCallback

    torch.manual_seed(0)
    seq = torch.arange(16).repeat(2)  # a pattern a one-layer model learns in a few dozen steps
    data = [{"input_ids": torch.roll(seq, -k), "labels": torch.roll(seq, -k)} for k in range(16)] * 6
    config = transformers.GPT2Config(vocab_size=16, n_embd=32, n_layer=1, n_head=2, n_positions=32,
                                     bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config)
    cb = LossDoctorCallback(every=5, stop_on="error", verbose=0)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=8, num_train_epochs=2, learning_rate=lr,
        logging_steps=1, report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True,
        max_grad_norm=0, lr_scheduler_type="constant")
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data, callbacks=[cb])
    trainer.train()
    return trainer, cb


def test_transformers_stops_a_diverging_run_where_the_rule_fires(tmp_path) -> None:  # type: ignore[no-untyped-def]
    trainer, cb = _hf_train(30.0, tmp_path)
    assert trainer.control.should_training_stop
    assert_stopped_where_it_fired(cb, trainer.state.global_step)


def test_transformers_lets_a_healthy_run_train_to_its_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    trainer, cb = _hf_train(3e-3, tmp_path)
    assert trainer.state.global_step == 2 * 12
    assert_healthy(cb)


def test_stop_on_names_rules_and_rejects_unknown_ones() -> None:
    from lossdoctor.integrations.live import LiveJudge

    assert LiveJudge(stop_on="nan_loss,divergence").rules == {"nan_loss", "divergence"}
    with pytest.raises(ValueError, match="nan_losss"):
        LiveJudge(stop_on=["nan_losss"])
