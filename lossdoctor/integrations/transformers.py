"""`LossDoctorCallback`, an HF Transformers TrainerCallback: judge what the Trainer logs.

    trainer = Trainer(..., callbacks=[LossDoctorCallback(stop_on="error")])

Every `on_log` (loss, grad_norm, learning_rate every `logging_steps`; eval_* after each
evaluation) is recorded at `state.global_step`, as trainer_state.json's log_history keeps
it, and read the same way (the end-of-training summary left out, the Trainer's NaN filter
undone where it left its mark). Findings go to the Trainer's logger on the main process;
`stop_on` sets `control.should_training_stop`, which the Trainer checks after the step.
On several processes they judge at the same log counts, so they stop together.
"""

from __future__ import annotations

from typing import Any

from ..errors import MissingExtra
from ..sources.hf_trainer import is_summary, unfilter_nan
from .live import DISTRIBUTED_EVERY, Judged, LiveJudge, report_lines

try:
    from transformers import TrainerCallback
    from transformers.utils import logging as hf_logging
except ImportError:  # pragma: no cover - said to the user who imports this module
    raise MissingExtra('lossdoctor.integrations.transformers needs transformers: '
                       'pip install "lossdoctor[transformers]"') from None

_log = hf_logging.get_logger("transformers.trainer")


class LossDoctorCallback(Judged, TrainerCallback):
    """Diagnose the run at log events (every `every` steps, default: within a 0.25% time
    budget); log new and resolved findings; with `stop_on` ("error", "warning", rule ids)
    stop training at the first finding that matches. `findings` / `diagnosis` hold the last
    judgement, `stopped_at` the global step at which it stopped training (None if not)."""

    def __init__(self, config: Any = None, *, every: int | None = None, stop_on: Any = None,
                 verbose: int = 1) -> None:
        self.judge = LiveJudge(config, every, stop_on, name="transformers", fmt="hf_trainer_state")
        self.verbose = verbose
        self.stopped_at: int | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if getattr(args, "world_size", 1) > 1 and self.judge.every is None:
            self.judge.every = DISTRIBUTED_EVERY

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
        if not logs or is_summary(logs):
            return
        step = state.global_step
        self.judge.record(step, logs)
        if not self.judge.due(step):
            return
        changes = self.judge.judge(step, unfilter_nan(self.judge.run()))
        if state.is_world_process_zero:
            for line in report_lines(changes, self.verbose):
                _log.warning(line)
        stop = self.judge.stop_for(changes)
        if stop is not None:
            control.should_training_stop = True
            self.stopped_at = step
            if state.is_world_process_zero:
                _log.warning(f"lossdoctor: stopping training at step {step:,} ({stop.rule})")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.stopped_at is None:
            self.judge.judge(state.global_step, unfilter_nan(self.judge.run()), ended=True)
