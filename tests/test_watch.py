"""`lossdoctor watch`: runs followed while real writers write them.

In-process tests drive a Session tick by tick (no sleeping, no timing): the log grows
between ticks as its writer writes it (TensorBoard's EventFileWriter, the csv module as
Keras' CSVLogger and Lightning use it, JSON lines, the real writers' files under
tests/data/layouts replayed byte by byte, cut anywhere). Command-line tests run `watch`
as a process beside a writer thread for the exit codes, --exec, --idle-timeout, Ctrl-C
and the JSON-lines stream.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from lossdoctor.diagnose import Settings
from lossdoctor.findings import Severity
from lossdoctor.sources import discover, read_run
from lossdoctor.sources.follow import follower
from lossdoctor.watch.session import Session, WatchOptions

LAYOUTS = Path(__file__).parent / "data" / "layouts"
SETTINGS = Settings.default()


def error_gate(f) -> bool:  # type: ignore[no-untyped-def]
    return f.severity >= Severity.ERROR


def session(path: Path, **opts) -> tuple[Session, list[dict]]:  # type: ignore[no-untyped-def]
    events: list[dict] = []
    return Session(WatchOptions(str(path), interval=0, **opts), SETTINGS, error_gate, events.append), events


def kinds(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["event"] == kind]


def falling(i: int) -> float:
    return 2.0 * math.exp(-i / 40) + 0.1 + 0.01 * math.sin(i)


class Table:
    """Rows appended with the csv module and flushed, as Keras' CSVLogger does after each epoch."""

    def __init__(self, path: Path, fields: list[str]) -> None:
        self.file = open(path, "w", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=fields)
        self.writer.writeheader()
        self.file.flush()

    def rows(self, rows: list[dict]) -> None:
        self.writer.writerows(rows)
        self.file.flush()


def test_a_nan_appended_to_a_csv_is_reported_once_at_its_step(tmp_path: Path) -> None:
    log = tmp_path / "training.csv"
    table = Table(log, ["epoch", "loss"])
    s, events = session(log)
    table.rows([{"epoch": i, "loss": falling(i)} for i in range(30)])
    assert not s.tick() and not kinds(events, "finding")
    table.rows([{"epoch": 30, "loss": float("nan")}])
    assert s.tick()  # the gate: nan_loss is an error
    (found,) = [e for e in kinds(events, "finding") if e["rule"] == "nan_loss"]
    assert found["step"] == 30 and found["run"] == "training.csv"
    table.rows([{"epoch": i, "loss": float("nan")} for i in range(31, 40)])
    s.tick()
    assert len([e for e in kinds(events, "finding") if e["rule"] == "nan_loss"]) == 1


def test_a_healthy_run_gets_no_warning_or_error_while_it_grows(tmp_path: Path) -> None:
    log = tmp_path / "training.csv"
    table = Table(log, ["epoch", "loss", "val_loss"])
    s, events = session(log)
    for start in range(0, 120, 20):
        table.rows([{"epoch": i, "loss": falling(i), "val_loss": falling(i) * 1.05 + 0.02} for i in range(start, start + 20)])
        assert not s.tick()
    assert not [e for e in kinds(events, "finding") if e["severity"] != "info"]
    (diag,) = s.final()
    assert diag.points == 240 and diag.verdict in ("ok", "info")


def test_a_loss_that_climbs_a_thousandfold_and_stays_is_divergence(tmp_path: Path) -> None:
    log = tmp_path / "training.csv"
    table = Table(log, ["step", "loss"])
    s, events = session(log)
    table.rows([{"step": i, "loss": falling(i)} for i in range(60)])
    s.tick()
    table.rows([{"step": i, "loss": 300.0 * (1 + 0.01 * math.sin(i))} for i in range(60, 100)])
    assert s.tick()
    assert "divergence" in {e["rule"] for e in kinds(events, "finding")}


def _replay(src: Path, dest: Path, cuts: list[int], s: Session) -> None:
    """Write `src` into `dest` in pieces ending at `cuts`, ticking after each (a reader sees every tear)."""
    data = src.read_bytes()
    with open(dest, "wb") as out:
        last = 0
        for cut in [*cuts, len(data)]:
            out.write(data[last:cut])
            out.flush()
            last = cut
            s.tick()


def _same_series(a, b) -> None:  # type: ignore[no-untyped-def]
    assert set(a.series) == set(b.series)
    for name in a.series:
        np.testing.assert_array_equal(a.series[name].steps, b.series[name].steps)
        np.testing.assert_array_equal(a.series[name].values, b.series[name].values)


@pytest.mark.parametrize("src", [
    "lightning_two_loggers/lightning_logs/version_0/metrics.csv",
    "lightning_two_loggers/lightning_logs/version_0/events.out.tfevents.1796156543.vm.21958.0",
    "mmengine_workdir/work_dirs/tiny_mlp_sgd/20261201_202426/vis_data/scalars.json",
], ids=["lightning_csv", "tensorboard", "jsonl"])
def test_a_real_log_replayed_in_torn_pieces_reads_as_the_whole_file(tmp_path: Path, src: str) -> None:
    """Cut at every 7th byte: torn lines and torn TFRecord frames are waited for, never reported."""
    real = LAYOUTS / src
    dest = tmp_path / real.name
    s, events = session(dest)
    _replay(real, dest, list(range(1, real.stat().st_size, 7)), s)
    (watched,) = s.runs.values()
    _same_series(watched.follower.run(), read_run(real))
    assert watched.waiting == "" and watched.diagnosis is not None


def test_tensorboard_records_appended_by_the_writer_and_a_new_event_file(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    writer = EventFileWriter(str(run), filename_suffix=".a")

    def add(w: EventFileWriter, step: int, value: float) -> None:
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=value)])
        w.add_event(event_pb2.Event(step=step, wall_time=1.7e9 + step, summary=summary))

    s, events = session(tmp_path)
    for i in range(40):
        add(writer, i, falling(i))
    writer.flush()
    assert not s.tick() and kinds(events, "run")[0]["layout"] == "tensorboard"
    writer.close()
    resumed = EventFileWriter(str(run), filename_suffix=".b")  # a resumed run: a second file
    for i in range(40, 50):
        add(resumed, i, float("inf") if i >= 45 else falling(i))
    resumed.flush()
    assert s.tick()
    (nan,) = [e for e in kinds(events, "finding") if e["rule"] == "nan_loss"]
    assert nan["step"] == 45
    (watched,) = s.runs.values()
    assert len(watched.follower.run().series["loss"]) == 50
    resumed.close()


def test_a_lightning_style_rewrite_under_a_new_header_is_read_again(tmp_path: Path) -> None:
    """Lightning's CSV writer appends rows, and rewrites the whole file when a new key appears."""
    folder = tmp_path / "lightning_logs" / "version_0"
    folder.mkdir(parents=True)
    log = folder / "metrics.csv"
    table = Table(log, ["epoch", "step", "train_loss"])
    s, events = session(tmp_path / "lightning_logs")
    table.rows([{"epoch": 0, "step": i, "train_loss": falling(i)} for i in range(40)])
    s.tick()
    table.file.close()
    old = list(csv.DictReader(open(log, newline="")))  # as _rewrite_with_new_header does
    rewrite = Table(log, ["epoch", "step", "train_loss", "val_loss"])
    rewrite.rows(old + [{"epoch": 0, "step": 39, "val_loss": 0.5}])
    s.tick()
    (watched,) = s.runs.values()
    run = watched.follower.run()
    assert len(run.series["train_loss"]) == 40 and list(run.series["val_loss"].values) == [0.5]
    rewrite.rows([{"epoch": 1, "step": 40, "train_loss": float("nan")}])
    assert s.tick() and [e["step"] for e in kinds(events, "finding") if e["rule"] == "nan_loss"] == [40]


def test_overfitting_that_has_begun_and_then_rises_is_reported_when_it_becomes_a_warning(tmp_path: Path) -> None:
    """The validation loss stalls while the training loss falls (overfitting has begun: the
    rule's milder reading, at info), then it rises (the full reading, a warning): the same
    rule on the same series, reported again because it grew worse, and the gate sees it."""
    log = tmp_path / "training.csv"
    table = Table(log, ["epoch", "loss", "val_loss"])
    events: list[dict] = []
    s = Session(WatchOptions(str(log), interval=0, verbosity=1), SETTINGS,
                lambda f: f.severity >= Severity.WARNING, events.append)
    rng = np.random.default_rng(7)
    train = [2.3 * math.exp(-i / 15) + 0.05 for i in range(70)]
    val = [(2.2 * math.exp(-i / 5) + 0.5 + 0.02 * max(0, i - 40)) * math.exp(rng.normal(0, 0.03))
           for i in range(70)]
    table.rows([{"epoch": i, "loss": train[i], "val_loss": val[i]} for i in range(40)])
    assert not s.tick()
    (begun,) = [e for e in kinds(events, "finding") if e["rule"] == "overfitting"]
    assert begun["severity"] == "info"
    table.rows([{"epoch": i, "loss": train[i], "val_loss": val[i]} for i in range(40, 70)])
    assert s.tick()
    worse = [e for e in kinds(events, "finding") if e["rule"] == "overfitting"][1:]
    assert [e["severity"] for e in worse] == ["warning"]


def test_a_finding_that_goes_away_is_reported_as_resolved(tmp_path: Path) -> None:
    """A job restarted from a checkpoint writes its log anew: the NaN it had is gone."""
    log = tmp_path / "training.csv"
    table = Table(log, ["epoch", "loss"])
    s, events = session(log, keep_going=True)
    table.rows([{"epoch": i, "loss": falling(i) if i < 30 else float("nan")} for i in range(35)])
    s.tick()
    table.file.close()
    fresh = Table(log, ["epoch", "loss"])
    fresh.rows([{"epoch": i, "loss": falling(i)} for i in range(40)])
    s.tick()
    (resolved,) = kinds(events, "resolved")
    assert resolved["rule"] == "nan_loss" and resolved["step"] == 30
    assert s.gated  # it did fail the gate once: --keep-going ends with exit 1


def test_a_run_folder_that_appears_after_watch_starts(tmp_path: Path) -> None:
    root = tmp_path / "lightning_logs"
    root.mkdir()
    s, events = session(root)
    s.tick()
    assert not s.runs and s.status().startswith("waiting for a run")
    (root / "version_0").mkdir()
    (root / "version_0" / "hparams.yaml").write_text("lr: 0.1\n")
    s.tick()
    assert not s.runs
    table = Table(root / "version_0" / "metrics.csv", ["epoch", "step", "train_loss"])
    s.tick()  # the header alone: a run, nothing to judge yet
    assert kinds(events, "run")[0]["run"].endswith("version_0") and "version_0" in s.status()
    table.rows([{"epoch": 0, "step": i, "train_loss": falling(i)} for i in range(20)])
    table.rows([{"epoch": 0, "step": 20, "train_loss": float("nan")}])
    assert s.tick()


def test_hf_checkpoints_rewrite_trainer_state_and_a_torn_one_is_waited_for(tmp_path: Path) -> None:
    src = LAYOUTS / "hf_output_dir" / "tiny-bert"
    out = tmp_path / "tiny-bert"
    out.mkdir()
    s, events = session(out)
    points = []
    for n in (12, 24, 36):
        (out / f"checkpoint-{n}").mkdir()
        state = (src / f"checkpoint-{n}" / "trainer_state.json").read_bytes()
        (out / f"checkpoint-{n}" / "trainer_state.json").write_bytes(state[: len(state) // 2])  # mid-write
        s.tick()
        (out / f"checkpoint-{n}" / "trainer_state.json").write_bytes(state)
        s.tick()
        points.append(s.runs[str(out)].diagnosis.points)
    assert points[0] < points[1] < points[2]
    assert s.runs[str(out)].diagnosis.points == read_run(src / "checkpoint-36").points
    assert not kinds(events, "finding") or all(e["severity"] != "error" for e in kinds(events, "finding"))


def test_an_mlflow_file_store_whose_metric_files_grow(tmp_path: Path) -> None:
    src = LAYOUTS / "mlflow_file_store" / "mlruns"
    run_src = next(p for p in src.glob("*/*") if (p / "metrics" / "train_loss").is_file())
    store = tmp_path / "mlruns"
    shutil.copytree(src, store)
    s, events = session(store)
    s.tick()
    run = store / run_src.relative_to(src)
    assert str(run) in s.runs
    last = (run / "metrics" / "train_loss").read_text().split()
    with open(run / "metrics" / "train_loss", "a") as f:  # MLflow's line: timestamp value step
        f.write(f"{int(last[-3]) + 1000} nan {int(last[-1]) + 1}\n")
    assert s.tick()
    assert [e for e in kinds(events, "finding") if e["rule"] == "nan_loss"]


def test_an_mlflow_sqlite_store_that_grows(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "mlflow.db"
    shutil.copyfile(LAYOUTS / "mlflow_sqlite" / "mlflow.db", db)
    s, events = session(db)
    s.tick()
    ref = next(iter(s.runs))
    run_id = ref.rpartition("#")[2]
    con = sqlite3.connect(db)
    step = con.execute("SELECT max(step) FROM metrics WHERE run_uuid=?", (run_id,)).fetchone()[0]
    key = con.execute("SELECT key FROM metrics WHERE run_uuid=? AND key LIKE '%loss%' LIMIT 1", (run_id,)).fetchone()[0]
    con.execute("INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, 0, ?, ?, 1, ?)",
                (key, int(time.time() * 1000), step + 1, run_id))
    con.commit()
    con.close()
    assert s.tick()
    assert [e["step"] for e in kinds(events, "finding") if e["rule"] == "nan_loss"] == [step + 1]


def test_the_follower_never_reads_an_appended_file_from_byte_zero_again(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"step": i, "loss": falling(i)}) + "\n" for i in range(1000)))
    (ref,) = discover([log]).runs
    f = follower(ref)
    f.poll()
    reads: list[int] = []
    import lossdoctor.sources.tail as tail

    real_open = tail.open_regular

    def counting_open(path):  # type: ignore[no-untyped-def]
        handle = real_open(path)
        if str(path) == str(log):
            real_read = handle.read
            handle.read = lambda n=-1: (reads.append(n), real_read(n))[1]  # type: ignore[method-assign]
        return handle
    with open(log, "a") as w:
        w.write(json.dumps({"step": 1000, "loss": 0.1}) + "\n")
    monkeypatch.setattr(tail, "open_regular", counting_open)
    assert f.poll()
    assert reads and max(reads) < 200  # the probe before the offset and the one new line, not the file
    assert len(f.run().series["loss"]) == 1001


# --- the command line, beside a writer thread ------------------------------------------------

def _writer(path: Path, rows: int, nan_at: int | None, delay: float = 0.01) -> threading.Thread:
    def write() -> None:
        table = Table(path, ["epoch", "loss"])
        for i in range(rows):
            table.rows([{"epoch": i, "loss": float("nan") if nan_at is not None and i >= nan_at else falling(i)}])
            time.sleep(delay)
        table.file.close()
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _watch(*args: str, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "lossdoctor", "watch", *args], capture_output=True,
                          text=True, timeout=60, **kw)


def test_cli_exits_1_at_the_gate_and_streams_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "training.csv"
    writer = _writer(log, 80, nan_at=50)
    done = _watch(str(tmp_path), "--interval", "0.1", "--format", "jsonl", "--idle-timeout", "20")
    writer.join()
    assert done.returncode == 1, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["event"] == "watch" and events[-1]["event"] == "end"
    assert events[-1]["reason"] == "gate" and events[-1]["exit_code"] == 1
    nans = [e for e in events if e["event"] == "finding" and e["rule"] == "nan_loss"]
    assert len(nans) == 1 and nans[0]["step"] == 50


def test_cli_streams_a_lone_surrogate_key_as_an_escape(tmp_path: Path) -> None:
    """A JSON key with a lone surrogate has no UTF-8 spelling: the jsonl events once wrote it
    raw and stopped with an internal error (exit 70) at the first event naming the metric."""
    rows = [{"step": i, "loss": falling(i)} for i in range(30)] + [{"step": 30, "loss": float("nan")}]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r).replace('"loss"', '"\\ud800loss"') + "\n" for r in rows))
    done = _watch(str(tmp_path / "log.jsonl"), "--interval", "0.1", "--format", "jsonl", "--idle-timeout", "5")
    assert done.returncode == 1, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    nan = next(e for e in events if e["event"] == "finding" and e["rule"] == "nan_loss")
    assert nan["metric"] == "\ud800loss" and nan["step"] == 30
    assert events[-1]["event"] == "end" and events[-1]["reason"] == "gate"


def test_exec_hook_passes_lone_surrogates_it_can_and_escapes_the_rest(tmp_path: Path) -> None:
    """A file name's undecodable byte goes to the hook's environment as that byte; a JSON key's
    lone surrogate, which has no bytes, as its escape; stdin is ASCII JSON either way (the hook
    once stopped watch with an internal error on both)."""
    from lossdoctor.watch.hook import Hook

    latin = os.fsdecode(b"caf\xe9")
    out = tmp_path / "got"
    hook = Hook(("sh", "-c", f'cat > "{out}.json"; printf "%s|%s" "$LOSSDOCTOR_METRIC" "$LOSSDOCTOR_RUN" > "{out}.env"'))
    assert hook.run({"event": "finding", "rule": "nan_loss", "metric": "\ud800loss", "run": latin, "step": 3}) == 0
    assert json.loads(Path(f"{out}.json").read_bytes())["metric"] == "\ud800loss"
    assert Path(f"{out}.env").read_bytes() == b"\\ud800loss|caf\xe9"


def test_cli_exec_gets_the_finding_on_stdin_and_in_its_environment(tmp_path: Path) -> None:
    log = tmp_path / "training.csv"
    got = tmp_path / "hook.json"
    script = ("import json, os, sys; d = json.load(sys.stdin); "
              f"json.dump({{'stdin': d, 'rule': os.environ['LOSSDOCTOR_RULE'], 'step': os.environ['LOSSDOCTOR_STEP']}}, "
              f"open({str(got)!r}, 'w'))")
    writer = _writer(log, 60, nan_at=40)
    done = _watch(str(log), "--interval", "0.1", "--idle-timeout", "20",
                  "--exec", f"{sys.executable} -c \"{script}\"")
    writer.join()
    assert done.returncode == 1, done.stderr
    hook = json.loads(got.read_text())
    assert hook["rule"] == "nan_loss" and hook["step"] == "40" and hook["stdin"]["step"] == 40
    assert "nan_loss" in done.stdout and "stopped (a finding failed the gate)" in done.stderr


def test_cli_exec_of_a_missing_command_is_a_usage_error(tmp_path: Path) -> None:
    done = _watch(str(tmp_path), "--exec", "no-such-command-anywhere --now")
    assert done.returncode == 2 and "no such command 'no-such-command-anywhere'" in done.stderr


def test_cli_exits_0_when_a_healthy_writer_goes_idle(tmp_path: Path) -> None:
    log = tmp_path / "training.csv"
    writer = _writer(log, 60, nan_at=None, delay=0.005)
    done = _watch(str(log), "--interval", "0.1", "--idle-timeout", "1")
    writer.join()
    assert done.returncode == 0, done.stderr
    assert "the writer went idle" in done.stderr and "training.csv" in done.stdout


@pytest.mark.parametrize("fmt", ["text", "jsonl"])
def test_cli_unreadable_run_is_the_error_line_diagnose_writes(tmp_path: Path, fmt: str) -> None:
    """A run that cannot be read ends watch with `diagnose`'s one line on stderr and exit 3, in
    either format (text once wrote `lossdoctor: PATH: PATH: problem`, the path twice, without
    `error:`; jsonl wrote nothing on stderr)."""
    (tmp_path / "notes.txt").write_text("not a training log\n")
    done = _watch(str(tmp_path), "--interval", "0.1", "--idle-timeout", "0", "--format", fmt)
    diagnosed = subprocess.run([sys.executable, "-m", "lossdoctor", "diagnose", str(tmp_path)],
                               capture_output=True, text=True, timeout=60)
    assert done.returncode == diagnosed.returncode == 3
    errors = [line for line in done.stderr.splitlines() if line.startswith("lossdoctor: ") and "stopped" not in line]
    assert errors == diagnosed.stderr.splitlines()
    assert errors[0].startswith(f"lossdoctor: error: {tmp_path}: ") and errors[0].count(str(tmp_path)) == 1


def test_cli_ctrl_c_prints_the_final_diagnosis(tmp_path: Path) -> None:
    log = tmp_path / "training.csv"
    Table(log, ["epoch", "loss"]).rows([{"epoch": i, "loss": falling(i)} for i in range(50)])
    proc = subprocess.Popen([sys.executable, "-m", "lossdoctor", "watch", str(log), "--interval", "0.1",
                             "--format", "jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # the `watch` event: the session is running
    assert json.loads(first)["event"] == "watch"
    while "run" not in proc.stdout.readline():
        pass
    proc.send_signal(signal.SIGINT)
    # Not a timing test: the final diagnosis (first imports of the numeric stack included) can
    # take tens of seconds on a starved CI core; the limit only keeps a real hang from blocking.
    out, _ = proc.communicate(timeout=180)
    end = json.loads(out.splitlines()[-1])
    assert proc.returncode == 130 and end["reason"] == "interrupted"
    assert end["runs"][0]["points"] == 50


def test_whole_run_rules_wait_for_the_end_of_the_watch(tmp_path: Path) -> None:
    """A straight slow decline: lr_too_low is a reading of the whole run, so the live ticks stay
    quiet about it and the final diagnosis (what `diagnose` gives) has it."""
    log = tmp_path / "training.csv"
    table = Table(log, ["epoch", "loss"])
    s, events = session(log)
    for start in range(0, 60, 20):
        table.rows([{"epoch": i, "loss": 2.0 - 0.01 * i + 0.005 * math.sin(i)} for i in range(start, start + 20)])
        s.tick()
    assert not [e for e in kinds(events, "finding") if e["rule"] == "lr_too_low"]
    (diag,) = s.final()
    assert "lr_too_low" in {f.rule for f in diag.findings}
