"""`LossDoctor`, a Keras 3 callback: judge the run from what `fit` logs, stop it if asked.

    model.fit(x, y, validation_data=..., callbacks=[LossDoctor(stop_on="error")])

Batch logs are recorded at the global batch count (Keras reports each metric as its mean
so far in the epoch, as a CSVLogger would not, but a NaN or a blow-up shows in it at
once); the epoch logs add what the batches do not have (val_*) at the epoch's last batch.
Findings are printed as Keras' own callbacks print; `stop_on` sets `model.stop_training`,
which `fit` checks after every batch.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import MissingExtra
from .live import Judged, LiveJudge, report_lines

try:
    import keras
except ImportError:  # pragma: no cover - said to the user who imports this module
    raise MissingExtra('lossdoctor.integrations.keras needs Keras 3: pip install "lossdoctor[keras]"') from None


class LossDoctor(Judged, keras.callbacks.Callback):
    """Diagnose the run every `every` batches (default: within a 0.25% time budget); print
    new and resolved findings; with `stop_on` ("error", "warning", rule ids) stop training
    at the first finding that matches; `verbose`: 0 silent, 1 warnings and errors, 2 info
    findings too. `findings` / `diagnosis` hold the last judgement,
    `stopped_at` the batch count at which it stopped training (None if it did not)."""

    def __init__(self, config: Any = None, *, every: int | None = None, stop_on: Any = None,
                 verbose: int = 1) -> None:
        super().__init__()
        self.judge = LiveJudge(config, every, stop_on, name="keras", fmt="keras")
        self.verbose = verbose
        self.step = 0
        self.stopped_at: int | None = None
        self._batch_keys: set[str] = set()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.step += 1
        if logs:
            self._batch_keys.update(logs)
        self.judge.record(self.step, logs)
        if self.judge.due(self.step):
            self._judge()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        extra = {k: v for k, v in (logs or {}).items() if k not in self._batch_keys}
        self.judge.record(self.step, extra)
        if extra and self.judge.due(self.step):
            self._judge()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_at is None:
            self.judge.judge(self.step, ended=True)

    def _judge(self) -> None:
        changes = self.judge.judge(self.step)
        for line in report_lines(changes, self.verbose):
            self._say(line)
        stop = self.judge.stop_for(changes)
        if stop is not None and self.model is not None:
            self.model.stop_training = True
            self.stopped_at = self.step
            self._say(f"lossdoctor: stopping training at batch {self.step:,} ({stop.rule})")

    def _say(self, line: str) -> None:
        if keras.config.is_interactive_logging_enabled():
            print(line, flush=True)
        else:
            logging.getLogger("keras").warning(line)
