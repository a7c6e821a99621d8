"""Audit rows written as they arrive, to outputs that outlive the audit: JSON lines, Parquet.

A long audit (a million runs in a store) is killed, pre-empted or interrupted; what it
wrote must stay readable and tell `--resume` which runs are done. So:

- `jsonl`: one run per line (the `runs[]` entry of `--format json`), flushed after every
  batch; at the end one `{"skipped": {"path", "reason", "detail"}}` line per path left out. When the file is resumed (appended to), a line cut short by a kill and the
  records of runs whose store kept failing are dropped first: those runs are run again,
  so each run keeps one record.
- `parquet`: a folder of part files (`part-00000.parquet`, ...), each closed after
  PART_ROWS rows or PART_SECONDS, so a kill loses at most the open part; pyarrow, pandas,
  DuckDB and Spark read the folder as one table. Nested values (findings, metrics) are
  JSON text columns, so every part has one schema. A part cut short is set aside on
  resume (renamed `.broken-*`, which dataset readers skip) and its runs are audited again;
  parts holding records of runs whose store kept failing are rewritten without them.

`done_runs` reads either back: each finished run (a row whose store did not keep failing)
with its verdict and its findings' (rule, severity), for the summary and the gate.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from ..errors import ConfigError, InputError, MissingExtra, OutputError
from ..findings import AuditRow
from ..sources.text import open_regular
from . import escape
from .options import RenderOptions
from .output import GuardedStream

PART_ROWS = 10_000
PART_SECONDS = 60.0
UNFINISHED = "unavailable"  # a row of this error kind is audited again on resume


def record(row: AuditRow, options: RenderOptions) -> dict[str, Any]:
    """The JSON record of one run: what `--format json` lists under `runs`."""
    return {**row.to_dict(), "fails_gate": options.fails(row.diagnosis)}


class JsonlSink:
    """JSON lines to a file (appended to when resuming it) or to stdout."""

    def __init__(self, target: str | None, append: bool = False) -> None:
        self.target = target
        if target is None or target == "-":
            self.out: TextIO = sys.stdout
            self.own = False
        else:
            if append:
                _compact(target)
            try:
                self.out = GuardedStream(open(target, "a" if append else "w", encoding="utf-8"), f"--output {target}")
            except OSError as exc:
                raise OutputError.of(f"--output {target}", exc) from None
            self.own = True

    def write(self, rows: Iterable[AuditRow], options: RenderOptions) -> None:
        self.out.write("".join(json.dumps(record(r, options), allow_nan=False, ensure_ascii=True) + "\n"
                               for r in rows))
        self.out.flush()

    def skipped(self, paths: Iterable[Any]) -> None:
        """After the runs: one `{"skipped": {path, reason, detail}}` line per path left out
        (a resumed file has the earlier audit's dropped first: they are written again)."""
        self.out.write("".join(json.dumps({"skipped": s.to_dict()}, ensure_ascii=True) + "\n" for s in paths))
        self.out.flush()

    def close(self) -> None:
        if self.own:
            self.out.close()


def _compact(path: str) -> None:
    """Before appending: drop a last line a kill cut short (appending would glue onto it)
    and the records of unfinished runs (they are about to be run again). Streams the file:
    it may hold a million records."""
    try:
        with open_regular(path) as f:
            if all(line.endswith(b"\n") and not _unfinished(line) and not _skip_line(line) for line in f):
                return
            f.seek(0)
            with open(path + ".tmp", "wb") as out:
                out.writelines(line for line in f if line.endswith(b"\n") and not _unfinished(line)
                               and not _skip_line(line))
    except FileNotFoundError:
        return
    os.replace(path + ".tmp", path)


def _skip_line(line: bytes) -> bool:
    """A `{"skipped": ...}` line (JsonlSink.skipped), not a run's record."""
    return line.startswith(b'{"skipped": ')


def _unfinished(line: bytes) -> bool:
    if UNFINISHED.encode() not in line:
        return False
    try:
        return (json.loads(line).get("error") or {}).get("kind") == UNFINISHED
    except (ValueError, AttributeError):
        return False


def _arrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise MissingExtra('--format parquet needs pyarrow: pip install "lossdoctor[parquet]"') from None
    return pyarrow


def _schema(pa: Any) -> Any:
    text, num = pa.string(), pa.float64()
    return pa.schema([("run", text), ("name", text), ("path", text), ("layout", text), ("format", text),
                      ("points", pa.int64()), ("verdict", text), ("rules", pa.list_(text)),
                      ("error_kind", text), ("error_message", text), ("best_val_step", num),
                      ("best_val_loss", num), ("final_val_loss", num), ("fails_gate", pa.bool_()),
                      ("findings", text), ("metrics", text), ("pairs", text), ("notes", pa.list_(text))])


def _flat(row: AuditRow, options: RenderOptions) -> dict[str, Any]:
    d, rec = row.diagnosis, record(row, options)
    return {"run": _text(row.run), "name": _text(rec["name"]), "path": _text(rec["path"]),
            "layout": _text(row.layout), "format": _text(d.format), "points": d.points, "verdict": _text(d.verdict),
            "rules": [_text(r) for r in dict.fromkeys(f.rule for f in d.findings)],
            "error_kind": _text(d.error.kind if d.error else None),
            "error_message": _text(d.error.message if d.error else None),
            "best_val_step": row.best_val_step, "best_val_loss": row.best_val_loss,
            "final_val_loss": row.final_val_loss, "fails_gate": rec["fails_gate"],
            "findings": json.dumps(rec["findings"], ensure_ascii=True), "metrics": json.dumps(rec["metrics"]),
            "pairs": json.dumps(rec["pairs"]), "notes": [_text(n) for n in rec["notes"]]}


def _text(value: str | None) -> str | None:
    """A string column's cell (escape.arrow); None stays a null."""
    return None if value is None else escape.arrow(value)


class ParquetSink:
    """A folder of Parquet parts; new parts are numbered after the ones already there."""

    def __init__(self, target: str | None, append: bool = False) -> None:
        if not target or target == "-":
            raise ConfigError("--format parquet writes a folder: give it with --output FOLDER")
        self.pa = _arrow()
        self.schema = _schema(self.pa)
        self.folder = target
        with _writing(target):
            os.makedirs(target, exist_ok=True)
            for old in _parts(target):
                if not append:
                    os.remove(old)
                else:
                    _drop_unfinished(old)
        self.number = max((_number(p) for p in _parts(target)), default=-1) + 1
        self.writer: Any = None
        self.rows = 0
        self.opened = 0.0

    def write(self, rows: Iterable[AuditRow], options: RenderOptions) -> None:
        with _writing(self.folder):
            self._write([_flat(r, options) for r in rows])

    def _write(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        if self.writer is None:
            import pyarrow.parquet as pq

            path = os.path.join(self.folder, f"part-{self.number:05d}.parquet")
            self.writer, self.rows, self.opened = pq.ParquetWriter(path, self.schema), 0, time.monotonic()
        self.writer.write_table(self.pa.Table.from_pylist(batch, schema=self.schema))
        self.rows += len(batch)
        if self.rows >= PART_ROWS or time.monotonic() - self.opened >= PART_SECONDS:
            self._close_part()

    def _close_part(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            self.number += 1

    def skipped(self, paths: Iterable[Any]) -> None:
        """Parquet parts hold runs only: the skipped paths are counted in the summary line."""

    def close(self) -> None:
        with _writing(self.folder):
            self._close_part()


@contextmanager
def _writing(target: str) -> Iterator[None]:
    """A write to --output's folder: its OS errors (a full disk) are OutputErrors."""
    try:
        yield
    except OSError as exc:
        raise OutputError.of(f"--output {target}", exc) from None


def _drop_unfinished(part: str) -> None:
    """Rewrite a part without the records of unfinished runs (done_runs has set aside broken parts)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(part)
    unfinished = pc.fill_null(pc.equal(table.column("error_kind"), UNFINISHED), False)
    if pc.any(unfinished).as_py():
        pq.write_table(table.filter(pc.invert(unfinished)), part + ".tmp")
        os.replace(part + ".tmp", part)


def _parts(folder: str) -> list[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(os.path.join(folder, n) for n in names if n.startswith("part-") and n.endswith(".parquet"))


def _number(path: str) -> int:
    digits = os.path.basename(path)[5:-8]
    return int(digits) if digits.isascii() and digits.isdigit() else -1  # 'part-¹.parquet' is no part


SINKS: dict[str, Callable[[str | None, bool], Any]] = {"jsonl": JsonlSink, "parquet": ParquetSink}


@dataclass(frozen=True)
class Done:
    """A run finished by an earlier audit: its verdict and its findings' (rule, severity)."""

    verdict: str
    findings: tuple[tuple[str, str], ...]


def run_key(path: str) -> str:
    """A run's path as every record format can hold it, the key --resume looks runs up by (a
    Parquet column holds a file name's undecodable byte as its escape: see escape.arrow)."""
    return escape.arrow(path)


def done_runs(path: str) -> dict[str, Done]:
    """The finished runs recorded in a jsonl file or a parquet folder (or file), by `run_key`.
    A missing file is an audit not yet started: nothing is done."""
    if os.path.isdir(path) or path.endswith(".parquet"):
        return _done_parquet(path)
    try:
        with io.TextIOWrapper(open_regular(path), encoding="utf-8", errors="replace") as f:
            return {run_key(rec["run"]): _done(rec["verdict"], rec.get("findings") or [])
                    for rec in _records(f, path) if (rec.get("error") or {}).get("kind") != UNFINISHED}
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InputError(path, (exc.strerror or str(exc)).lower()) from None


def _records(lines: Iterable[str], path: str) -> Iterable[dict[str, Any]]:
    for number, line in enumerate(lines, start=1):
        if not line.endswith("\n"):
            return  # cut short by a kill: that run is audited again
        if line.startswith('{"skipped": '):
            continue  # a path the audit left out, not a run
        try:
            rec = json.loads(line)
        except ValueError:
            raise InputError(path, f"line {number} is not a JSON record of an audit (--resume wants the "
                                   "--format jsonl output of an earlier audit)") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("run"), str) or "verdict" not in rec:
            raise InputError(path, f"line {number} is not a run record of an audit")
        yield rec


def _done(verdict: str, findings: list[dict[str, Any]]) -> Done:
    return Done(str(verdict), tuple((str(f.get("rule")), str(f.get("severity"))) for f in findings
                                    if isinstance(f, dict)))


def _done_parquet(path: str) -> dict[str, Done]:
    _arrow()
    import pyarrow.parquet as pq

    parts = _parts(path) if os.path.isdir(path) else [path] if os.path.exists(path) else []
    done: dict[str, Done] = {}
    for part in parts:
        try:
            table = pq.read_table(part, columns=["run", "verdict", "error_kind", "findings"])
        except Exception as exc:  # noqa: BLE001 - a part a kill left without its footer
            if not os.path.isdir(path):
                raise InputError(path, f"not a readable Parquet file ({exc})") from None
            os.replace(part, os.path.join(path, ".broken-" + os.path.basename(part)))
            continue
        for run, verdict, kind, findings in zip(*(table.column(c).to_pylist() for c in table.column_names)):
            if kind != UNFINISHED:
                done[run_key(run)] = _done(verdict, json.loads(findings or "[]"))
    return done
