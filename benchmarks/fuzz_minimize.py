"""Shrinking a saved crash: delete chunks of its one file while the same command still crashes
the same way (delta debugging, halving the chunk size), within a few seconds' budget.

The result is written beside the input as `input-min/` and case.json gains `"minimised"`.
Only single-file inputs up to 1 MB are tried: a folder or a big file is kept as found.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import time
from pathlib import Path

from fuzz_run import Command, Outcome, worker

MAX_BYTES = 1 << 20


def _crashes(conn, cmd: Command, want: str, timeout: float) -> bool:
    from fuzz import signature

    conn.send([cmd])
    got = None
    while conn.poll(timeout):
        msg = conn.recv()
        if msg[0] == "done":
            got = msg[2]
        elif msg[0] == "end":
            break
    else:
        raise TimeoutError
    return got is not None and got.kind == "crash" and signature(got) == want


def minimise(dest: Path, outcome: Outcome, budget: float, mem_bytes: int, timeout: float = 10.0) -> None:
    info = json.loads((dest / "case.json").read_text())
    files = [p for p in (dest / "input").rglob("*") if p.is_file()]
    if len(files) != 1 or files[0].stat().st_size > MAX_BYTES:
        return
    work = dest / "input-min"
    shutil.copytree(dest / "input", work)
    victim = work / files[0].relative_to(dest / "input")
    (dest / "scratch-min").mkdir(exist_ok=True)
    argv = [str(work) + a[len("input"):] if a.startswith("input") else
            str(dest / "scratch-min") + a[len("scratch"):] if a.startswith("scratch") else a for a in info["argv"]]
    fmt = argv[argv.index("--format") + 1] if "--format" in argv else "plain"
    stdin = str(work) + info["stdin"][len("input"):] if info.get("stdin") else None
    cmd = Command(argv, fmt, stdin=stdin)
    ctx = multiprocessing.get_context("fork")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=worker, args=(child, mem_bytes), daemon=True)
    proc.start()
    data = victim.read_bytes()
    stop = time.monotonic() + budget
    chunk = max(1, len(data) // 2)
    try:
        while chunk >= 1 and time.monotonic() < stop:
            i, shrunk = 0, False
            while i < len(data) and time.monotonic() < stop:
                trial = data[:i] + data[i + chunk:]
                victim.write_bytes(trial)
                if trial != data and _crashes(conn, cmd, info["signature"], timeout):
                    data, shrunk = trial, True
                else:
                    i += chunk
            if not shrunk:
                chunk //= 2
    except (TimeoutError, EOFError, OSError):
        pass  # a trial hung or killed the worker: keep what was shrunk so far
    finally:
        victim.write_bytes(data)
        proc.kill()
        proc.join()
    info["minimised"] = {"bytes": len(data), "from": files[0].stat().st_size}
    (dest / "case.json").write_text(json.dumps(info, indent=2, ensure_ascii=True) + "\n")
