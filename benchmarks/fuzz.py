"""A bounded-time mutation fuzzer over the real logs in tests/data.

Each input is a seed unit (a small log under its own file name, or an MLflow run folder; see
fuzz_mutate.py) with one file mutated: bit flips, byte inserts and deletes, truncations,
splices of two files, repeated chunks, numbers replaced by huge ints / nan / inf / 1e309,
control characters, surrogates and `\\n::error::` injected into names, TFRecord payloads
edited behind valid checksums, mlflow.db rows of the wrong type. It is run through
`lossdoctor diagnose` in every diagnose format and `lossdoctor audit` of its folder in every
audit format, in worker processes with a per-command time limit and an address-space cap
(fuzz_run.py says how outcomes are classified). Every crashing, hanging or memory-blowing
input is saved under --out with its command and error (single files minimised when cheap),
at most --keep per distinct signature. Counts are printed at the end; exit 1 if any input
crashed, hung or blew memory.

    python benchmarks/fuzz.py --seconds 600 --seed 1 --jobs 1 --out fuzz-out
    python benchmarks/fuzz.py --inputs 40 --seed 7            # a fixed number of inputs (CI)
    python benchmarks/fuzz.py --replay tests/data/fuzz        # the regression inputs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from fuzz_mutate import Seed, seeds, write_mutant  # noqa: E402
from fuzz_run import Command, Outcome, commands, worker  # noqa: E402

RANK = {"success": 0, "clean": 1, "memory": 2, "hang": 3, "crash": 4}
BAD = ("crash", "hang", "memory")


@dataclass
class Input:
    """One mutant on disk and what became of it."""

    index: int
    root: Path  # holds case/ (the input) and scratch/
    target: str  # relative to case/
    history: list[str]
    cmds: list[Command]
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def case(self) -> Path:
        return self.root / "case"

    @property
    def kind(self) -> str:
        return max((o.kind for o in self.outcomes), key=RANK.__getitem__, default="success")


class Slot:
    """A worker process and the input it is running."""

    def __init__(self, ctx, mem_bytes: int) -> None:
        self.ctx, self.mem_bytes = ctx, mem_bytes
        self.job: Optional[Input] = None
        self.deadline = 0.0
        self.spawn()

    def spawn(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=worker, args=(child, self.mem_bytes), daemon=True)
        self.proc.start()
        child.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()

    def close(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.kill()


def _normalise(text: str) -> str:
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    return re.sub(r"\d+", "N", text)[:160]


def signature(o: Outcome) -> str:
    """What makes two failures the same bug: the kind, the exception and where it was raised."""
    frames = re.findall(r'File "([^"]*lossdoctor[^"]*)", line \d+, in (\w+)', o.traceback)
    where = f"{Path(frames[-1][0]).name}:{frames[-1][1]}" if frames else ""
    last = next((ln for ln in reversed(o.traceback.splitlines()) if re.match(r"^\w+(\.\w+)*(Error|Exception)", ln)), "")
    what = last.split(":")[0] if last else _normalise(o.detail)
    if o.detail.startswith("injection"):
        what = _normalise(o.detail.split(":")[1] if ":" in o.detail else o.detail)
    return f"{o.kind} {o.argv[0]} {where} {what}".strip()


def make_input(i: int, seed_value: int, units: list[Seed], work: Path, formats: Optional[set[str]]) -> Input:
    rng = random.Random(f"{seed_value}:{i}")
    unit, other = rng.choice(units), rng.choice(units)
    root = work / f"in-{i}"
    (root / "case").mkdir(parents=True)
    (root / "scratch").mkdir()
    target, done = write_mutant(rng, unit, other, root / "case")
    history = [f"seed {unit.base / unit.target}", f"donor {other.base / other.target}", *done]
    cmds = commands(str(root / "case" / target), str(root / "case"), str(root / "scratch"), formats,
                    ci=rng.random() < 0.3)
    return Input(i, root, target, history, cmds)


class Fuzzer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.ctx = multiprocessing.get_context("fork")
        # The code under test is fixed when the run starts: every worker, a respawned one and
        # the minimiser's included, forks from this import (an edit made during a long run
        # once left the crashes it found unshrinkable, as the minimiser ran the edited code).
        import lossdoctor.cli  # noqa: F401
        self.mem = args.mem_mb << 20
        self.work = Path(tempfile.mkdtemp(prefix="lossdoctor-fuzz-"))
        self.out = Path(args.out) if args.out else None
        self.inputs = Counter()
        self.per_command = Counter()
        self.signatures: Counter[str] = Counter()
        self.saved: list[str] = []
        # Crashes to shrink once the loop is over: minimising one inside the loop stalled it
        # for up to --minimize seconds while the other slots' deadlines ran on, and the next
        # input of another slot was then called a hang (seeds 31 and 53, both right after a crash).
        self.to_minimise: list[tuple[Path, Outcome]] = []
        self.slowest = (0.0, "")

    # --- the loop ---------------------------------------------------------------------

    def run(self, source) -> int:
        """Run every Input from the iterator `source` (it stops on the budget)."""
        slots = [Slot(self.ctx, self.mem) for _ in range(self.args.jobs)]
        pending = iter(source)
        exhausted = False
        try:
            while True:
                for slot in slots:
                    if slot.job is None and not exhausted:
                        job = next(pending, None)
                        if job is None:
                            exhausted = True
                        else:
                            self._start(slot, job)
                busy = [s for s in slots if s.job is not None]
                if not busy:
                    break
                now = time.monotonic()
                ready = wait([s.conn for s in busy], max(0.0, min(s.deadline for s in busy) - now))
                for slot in busy:
                    if slot.conn in ready:
                        self._receive(slot)
                    elif time.monotonic() > slot.deadline:
                        self._hang(slot)
        except KeyboardInterrupt:
            print("fuzz: interrupted; the counts so far (inputs still running are left out):", file=sys.stderr)
        finally:
            for slot in slots:
                slot.close()
            shutil.rmtree(self.work, ignore_errors=True)
        self._minimise_saved()
        return self.report()

    def _start(self, slot: Slot, job: Input) -> None:
        slot.job = job
        slot.deadline = time.monotonic() + self.args.timeout + 5  # the first command also waits for a fork
        slot.conn.send(job.cmds)

    def _receive(self, slot: Slot) -> None:
        job = slot.job
        try:
            msg = slot.conn.recv()
        except (EOFError, OSError):
            code = slot.proc.exitcode
            slot.proc.join(1)
            i = len(job.outcomes)
            job.outcomes.append(Outcome(job.cmds[i].argv, "crash", None,
                                        f"worker died (exit {slot.proc.exitcode if code is None else code})"))
            slot.kill()
            slot.spawn()
            self._finish(slot)
            return
        if msg[0] == "start":
            slot.deadline = time.monotonic() + self.args.timeout
        elif msg[0] == "done":
            job.outcomes.append(msg[2])
            self.per_command[msg[2].kind] += 1
            if msg[2].seconds > self.slowest[0]:
                self.slowest = (msg[2].seconds, " ".join(msg[2].argv[:1] + msg[2].argv[2:4]))
        elif msg[0] == "end":
            self._finish(slot)

    def _hang(self, slot: Slot) -> None:
        job = slot.job
        i = len(job.outcomes)
        job.outcomes.append(Outcome(job.cmds[i].argv, "hang", None, f"no answer in {self.args.timeout} s"))
        self.per_command["hang"] += 1
        slot.kill()
        slot.spawn()
        self._finish(slot)

    def _finish(self, slot: Slot) -> None:
        job, slot.job = slot.job, None
        self.inputs[job.kind] += 1
        seen = set()
        for o in job.outcomes:
            sig = signature(o) if o.kind in BAD else None
            if sig is None or sig in seen:
                continue  # the same defect in another format of this input: counted once
            seen.add(sig)
            self.signatures[sig] += 1
            if self.out and self.signatures[sig] <= self.args.keep:
                self._save(job, o, sig, [x.argv for x in job.outcomes if x.kind in BAD and signature(x) == sig])
        if self.args.verbose and job.kind in BAD:
            print(f"input {job.index}: {job.kind}: {[o.detail for o in job.outcomes if o.kind in BAD][:1]}",
                  file=sys.stderr)
        shutil.rmtree(job.root, ignore_errors=True)

    # --- saving -----------------------------------------------------------------------

    def _save(self, job: Input, o: Outcome, sig: str, all_argv: list[list[str]]) -> None:
        digest = hashlib.sha1(sig.encode()).hexdigest()[:8]
        dest = self.out / f"{o.kind}-{digest}-{self.args.seed}-{job.index}"
        if dest.exists():
            return  # an earlier run into the same --out saved this very input
        shutil.copytree(job.case, dest / "input", symlinks=True)

        def rel(argv: list[str]) -> list[str]:
            return [a.replace(str(job.case), "input").replace(str(job.root / "scratch"), "scratch") for a in argv]

        info = {"signature": sig, "target": job.target, "argv": rel(o.argv),
                "stdin": rel([o.stdin])[0] if o.stdin else None,
                "also": [" ".join(rel(a)[:1] + rel(a)[2:4]) for a in all_argv[1:]],
                "kind": o.kind, "exit_code": o.exit_code,
                "detail": o.detail, "history": job.history, "input": job.index, "seed": self.args.seed}
        (dest / "case.json").write_text(json.dumps(info, indent=2, ensure_ascii=True) + "\n")
        (dest / "error.txt").write_text(f"{' '.join(rel(o.argv))}\n\n{o.detail}\n\n{o.stderr}\n\n{o.traceback}\n",
                                        errors="backslashreplace")
        self.saved.append(str(dest))
        if o.kind == "crash" and self.args.minimize > 0:
            self.to_minimise.append((dest, o))

    def _minimise_saved(self) -> None:
        if not self.to_minimise:
            return
        from fuzz_minimize import minimise

        for dest, o in self.to_minimise:
            minimise(dest, o, self.args.minimize, self.mem)

    # --- the end ----------------------------------------------------------------------

    def report(self) -> int:
        total = sum(self.inputs.values())
        line = (f"inputs {total}  successes {self.inputs['success']}  clean errors {self.inputs['clean']}  "
                f"crashes {self.inputs['crash']}  hangs {self.inputs['hang']}  memory {self.inputs['memory']}")
        commands_line = "commands " + "  ".join(f"{k} {self.per_command[k]}" for k in RANK)
        print(line)
        print(commands_line)
        print(f"slowest command {self.slowest[0]:.1f} s ({self.slowest[1]})")
        for sig, n in self.signatures.most_common():
            print(f"  {n:5d}  {sig}")
        if self.out:
            self.out.mkdir(parents=True, exist_ok=True)
            summary = {"inputs": total, **{k: self.inputs[k] for k in RANK}, "per_command": dict(self.per_command),
                       "signatures": dict(self.signatures), "saved": self.saved, "args": vars(self.args)}
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return 1 if any(self.inputs[k] for k in BAD) else 0


def generate(args: argparse.Namespace, fuzzer: Fuzzer):
    """Inputs until --inputs are made or --seconds have passed."""
    units = seeds(Path(args.data))
    formats = set(args.formats.split(",")) if args.formats else None
    stop = time.monotonic() + args.seconds
    i = 0
    while (args.inputs is None or i < args.inputs) and (args.inputs is not None or time.monotonic() < stop):
        yield make_input(i, args.seed, units, fuzzer.work, formats)
        i += 1


def replay(args: argparse.Namespace, fuzzer: Fuzzer):
    """The saved case at --replay, or every case below it: case.json's target in its input/."""
    formats = set(args.formats.split(",")) if args.formats else None
    where = Path(args.replay)
    cases = [where] if (where / "case.json").is_file() else sorted(p.parent for p in where.glob("*/case.json"))
    for n, case in enumerate(cases):
        info = json.loads((case / "case.json").read_text())
        root = fuzzer.work / f"in-{n}"
        shutil.copytree(case / "input", root / "case", symlinks=True)
        (root / "scratch").mkdir()
        args = (str(root / "case" / info["target"]), str(root / "case"), str(root / "scratch"), formats)
        cmds = commands(*args) + commands(*args, ci=True)  # off and on a CI runner
        yield Input(n, root, info["target"], [f"replay {case}"], cmds)


def parse(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="time budget (ignored with --inputs)")
    p.add_argument("--inputs", type=int, default=None, help="run exactly this many inputs (reproducible)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--out", default=None, help="save crashing/hanging inputs here")
    p.add_argument("--data", default=str(HERE.parent / "tests" / "data"), help="where the seed logs are")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per command before it counts as a hang")
    p.add_argument("--mem-mb", type=int, default=2048, help="address-space cap of a worker (RLIMIT_AS)")
    p.add_argument("--keep", type=int, default=3, help="inputs saved per distinct signature")
    p.add_argument("--minimize", type=float, default=20.0, help="seconds to spend minimising a saved crash")
    p.add_argument("--formats", default=None, help="only these (e.g. plain,json or diagnose:html,audit:csv)")
    p.add_argument("--replay", default=None, help="run the saved cases in this folder instead of mutants")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: Optional[list[str]] = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _stop)  # `kill PID` ends a long run with its counts, as Ctrl-C does
    fuzzer = Fuzzer(args)
    source = replay(args, fuzzer) if args.replay else generate(args, fuzzer)
    return fuzzer.run(source)


if __name__ == "__main__":
    sys.exit(main())
