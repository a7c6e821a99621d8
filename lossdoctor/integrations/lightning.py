"""`LossDoctor`, a Lightning callback: judge the run from what `self.log` sends to the loggers.

    trainer = Trainer(callbacks=[LossDoctor(stop_on="error")])

When training starts the callback adds a small collecting logger to the trainer's loggers
(after the checkpoint and log folders are decided, so nothing moves), and so receives
exactly the numbers Lightning sends every logger, at the steps it sends them
(`log_every_n_steps`, epoch-level values at their epoch's end): what metrics.csv would
hold. It is removed again when training ends. Findings go to Lightning's logger on the
main process; `stop_on` sets `trainer.should_stop`, which the loop checks after the batch.
On several processes they judge at the same step counts and decide to stop together.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import MissingExtra
from .live import DISTRIBUTED_EVERY, Judged, LiveJudge, report_lines

try:
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import Logger
except ImportError:  # pragma: no cover - said to the user who imports this module
    raise MissingExtra('lossdoctor.integrations.lightning needs Lightning 2: pip install "lossdoctor[lightning]"') \
        from None

_log = logging.getLogger("lightning.pytorch.callbacks.lossdoctor")


class _Collector(Logger):
    """A logger that hands every logged dict to the judge."""

    def __init__(self, judge: LiveJudge) -> None:
        super().__init__()
        self._judge = judge

    @property
    def name(self) -> str:
        return "lossdoctor"

    @property
    def version(self) -> int:
        return 0

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self._judge.record(step if step is not None else 0, metrics)

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass


class LossDoctor(Judged, pl.Callback):
    """Diagnose the run every `every` steps (default: within a 0.25% time budget); log new and
    resolved findings; with `stop_on` ("error", "warning", rule ids) stop training at the
    first finding that matches. `findings` / `diagnosis` hold the last judgement,
    `stopped_at` the global step at which it stopped training (None if it did not)."""

    def __init__(self, config: Any = None, *, every: int | None = None, stop_on: Any = None,
                 verbose: int = 1) -> None:
        self.judge = LiveJudge(config, every, stop_on, name="lightning", fmt="lightning")
        self.verbose = verbose
        self.stopped_at: int | None = None
        self._collector = _Collector(self.judge)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.world_size > 1 and self.judge.every is None:
            self.judge.every = DISTRIBUTED_EVERY  # a count every process agrees on
        trainer.loggers = [*trainer.loggers, self._collector]

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        trainer.loggers = [lg for lg in trainer.loggers if lg is not self._collector]
        if self.stopped_at is None:
            self.judge.judge(trainer.global_step, ended=True)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        self._maybe_judge(trainer, trainer.global_step)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._maybe_judge(trainer, trainer.global_step)

    def _maybe_judge(self, trainer: pl.Trainer, step: int) -> None:
        if not self.judge.due(step):
            return
        changes = self.judge.judge(step)
        if trainer.is_global_zero:
            for line in report_lines(changes, self.verbose):
                _log.warning(line)
        stop = self.judge.stop_for(changes)
        decided = trainer.strategy.reduce_boolean_decision(stop is not None, all=False) \
            if trainer.world_size > 1 else stop is not None
        if decided:
            trainer.should_stop = True
            self.stopped_at = trainer.global_step
            if trainer.is_global_zero:
                _log.warning(f"lossdoctor: stopping training at step {trainer.global_step:,}"
                             + (f" ({stop.rule})" if stop else ""))
