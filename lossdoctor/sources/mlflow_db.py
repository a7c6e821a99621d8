"""MLflow SQLite store (`mlflow.db`): one run per `run_uuid` of its `metrics` table.

MLflow's SQL store keeps every logged point as a row (key, value, timestamp, step,
is_nan, run_uuid). A NaN is stored as value 0 with `is_nan` = 1, and +/-Inf as
+/-1.7976931348623157e308 (the largest double), so both are turned back here: they are
the most important values in a log. One run is addressed as `<db path>#<run_uuid>`.
The database is opened read-only with the stdlib `sqlite3`.
"""

from __future__ import annotations

import sqlite3
import sys
from itertools import groupby
from operator import itemgetter
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frame import Run
from ..numfmt import plural
from .columns import RunBuilder
from .text import open_regular

SEPARATOR = "#"
SQLITE_MAGIC = b"SQLite format 3\x00"
_MAX = sys.float_info.max


def split_ref(path: str | Path) -> tuple[Path, str] | None:
    """`store.db#<run_uuid>` -> (store.db, run_uuid) when that file exists, else None. The
    store is the shortest prefix before a `#` that is a file: a run id may hold `#` itself."""
    text = str(path)
    if SEPARATOR not in text or Path(text).exists():
        return None
    at = text.find(SEPARATOR)
    while at >= 0:
        db, run_id = text[:at], text[at + 1:]
        if run_id and Path(db).is_file():
            return Path(db), run_id
        at = text.find(SEPARATOR, at + 1)
    return None


def run_id_of(ref: str, db: str | Path) -> str:
    """The run id of `run_ref(db, id)` (the store's path may hold `#` too)."""
    return ref[len(str(db)) + len(SEPARATOR):]


def run_ref(db: str | Path, run_id: str) -> str:
    """The path form that `read_run` accepts for one run of a store."""
    return f"{db}{SEPARATOR}{run_id}"


def _connect(db: Path) -> sqlite3.Connection:
    """Open read-only (never create or lock a store for writing); InputError when not SQLite.
    Text comes back as bytes: a store's text need not be UTF-8, and sqlite3's own decoding
    fails with an error that is not an `sqlite3.Error`; `_text` decodes it."""
    try:
        with open_regular(db) as handle:
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                raise InputError(db, "not an SQLite database")
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    except OSError as exc:
        raise InputError(db, (exc.strerror or str(exc)).lower()) from None
    con.text_factory = bytes
    return con


# What a query on a damaged store raises: sqlite3's errors, and -- when SQLite's message quotes
# a schema whose text is not UTF-8 ("malformed database schema (...)") -- the UnicodeDecodeError
# of decoding that message, which is no sqlite3.Error.
_SQL_ERRORS = (sqlite3.Error, UnicodeDecodeError)


def _why(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "a damaged schema (SQLite's error about it is not even UTF-8)"
    return str(exc)


def _text(raw: object) -> str:
    """A text cell as str: bad UTF-8 shown as U+FFFD (names and labels only, never ids)."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _run_id(raw: object) -> str | None:
    """A run id that can be addressed as `<db>#<id>`: text in UTF-8; None for NULL, numbers
    or bad UTF-8 (the reader could not name them back)."""
    try:
        return raw.decode("utf-8") if isinstance(raw, bytes) else None
    except UnicodeDecodeError:
        return None


def tables(con: sqlite3.Connection) -> set[str]:
    """The names of the store's real tables. A view (which may recurse forever) or a virtual
    table is never queried: every query below is on a name from this set."""
    rows = con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                       "AND sql NOT LIKE 'CREATE VIRTUAL%'")
    return {_text(name) for (name,) in rows}


def _metrics_table(con: sqlite3.Connection, db: Path) -> set[str]:
    """`tables(con)`, after checking that `metrics` is one of them (InputError if not)."""
    found = tables(con)
    if "metrics" not in found:
        raise InputError(db, "SQLite file without an MLflow 'metrics' table")
    return found


def list_runs(db: Path) -> tuple[list[str], int]:
    """(run uuids with metrics, how many deleted runs were left out), sorted by uuid. A NULL,
    numeric or non-UTF-8 run id is left out: `<db>#<id>` could not name it."""
    con = _connect(db)
    try:
        found = _metrics_table(con, db)
        raw = [r[0] for r in con.execute("SELECT DISTINCT run_uuid FROM metrics WHERE typeof(run_uuid) = 'text' "
                                         "ORDER BY run_uuid")]
        ids = [i for i in map(_run_id, raw) if i is not None]
        deleted: set[str] = set()
        if "runs" in found:  # MLflow keeps deleted runs until `mlflow gc`; the UI hides them
            rows = con.execute("SELECT run_uuid FROM runs WHERE lifecycle_stage = 'deleted'")
            deleted = {i for i in (_run_id(r) for (r,) in rows) if i is not None}
        return [i for i in ids if i not in deleted], len(deleted & set(ids))
    except _SQL_ERRORS as exc:
        raise InputError(db, f"cannot read the MLflow store: {_why(exc)}") from None
    finally:
        con.close()


def named_runs(db: Path) -> tuple[list[tuple[str, str]], int]:
    """([(reference, name)], deleted count): each run as `read_ref` takes it, named as MLflow's UI
    shows it (`experiment/run name`, else the uuid)."""
    ids, deleted = list_runs(db)
    names = _run_names(db)
    return [(run_ref(db, i), names.get(i, i)) for i in ids], deleted


# Parameters in which trainers that also log to MLflow record where their run folder is
# (Ultralytics' save_dir, HF TrainingArguments' output_dir / logging_dir, Lightning's
# default_root_dir): an MLflow run naming a folder is the same training as that folder.
OUTPUT_DIR_PARAMS = ("save_dir", "output_dir", "logging_dir", "log_dir", "default_root_dir")


def run_folders(db: Path) -> dict[str, list[str]]:
    """run uuid -> the folder paths its parameters name (OUTPUT_DIR_PARAMS), as logged."""
    con = _connect(db)
    marks = ", ".join("?" * len(OUTPUT_DIR_PARAMS))
    try:
        if "params" not in tables(con):
            return {}
        rows = con.execute(f"SELECT run_uuid, value FROM params WHERE key IN ({marks})", OUTPUT_DIR_PARAMS)
        out: dict[str, list[str]] = {}
        for uuid, value in rows:
            run_id = _run_id(uuid)
            if run_id is not None and isinstance(value, bytes):
                out.setdefault(run_id, []).append(_text(value))
        return out
    except _SQL_ERRORS:
        return {}
    finally:
        con.close()


def _run_names(db: Path) -> dict[str, str]:
    """run uuid -> 'experiment/run name' from the runs and experiments tables, when they have them."""
    con = _connect(db)
    try:
        if not {"runs", "experiments"} <= tables(con):
            return {}
        names = {}
        for uuid, name, exp in con.execute(
                "SELECT r.run_uuid, r.name, e.name FROM runs r LEFT JOIN experiments e "
                "ON r.experiment_id = e.experiment_id WHERE r.name IS NOT NULL"):
            run_id = _run_id(uuid)
            if run_id is not None:
                names[run_id] = f"{_text(exp)}/{_text(name)}" if exp else _text(name)
        return names
    except _SQL_ERRORS:
        return {}  # an older or partial schema: the uuid names the run
    finally:
        con.close()


def read_ref(ref: str | Path) -> Run:
    """Read `<db>#<run_uuid>`; InputError when it is not such a reference."""
    parts = split_ref(ref)
    if parts is None:
        raise InputError(ref, "not a run of an MLflow store (expected <mlflow.db>#<run id>)")
    return read_mlflow_db(*parts)


# A metric row as MLflow writes it; any other (a hand-edited or damaged store) is skipped
# with a note rather than crashing a float() on text, NULL or a blob.
_ROW_CHECKS = {
    "a key that is not text": "typeof(key) = 'text'",
    "a step that is not an integer": "(typeof(step) = 'integer' OR (typeof(step) = 'real' "
                                     "AND step = CAST(step AS INTEGER)))",
    "a value that is not a number": "(typeof(value) IN ('integer', 'real') OR is_nan = 1)",
    "an is_nan that is not 0 or 1": "coalesce(is_nan IN (0, 1), 0)",
}
_ROW_OK = " AND ".join(_ROW_CHECKS.values())


def read_mlflow_db(db: Path, run_id: str) -> Run:
    """Every metric of one run, ordered as MLflow orders a history: by (step, timestamp)."""
    con = _connect(db)
    try:
        _metrics_table(con, db)
        rows = con.execute(f"SELECT key, step, value, is_nan FROM metrics WHERE run_uuid = ? AND {_ROW_OK} "
                           "ORDER BY key, step, timestamp", (run_id,)).fetchall()
        counts = ", ".join(f"coalesce(sum(NOT {check}), 0)" for check in _ROW_CHECKS.values())
        bad = con.execute(f"SELECT {counts} FROM metrics WHERE run_uuid = ? AND NOT ({_ROW_OK})",
                          (run_id,)).fetchone()
    except _SQL_ERRORS as exc:
        raise InputError(db, f"cannot read the MLflow store: {_why(exc)}") from None
    finally:
        con.close()
    ref = run_ref(db, run_id)
    why = [f"{n} with {what}" for what, n in zip(_ROW_CHECKS, bad) if n]
    if not rows:
        raise InputError(ref, "no metric values for this run in the MLflow store"
                         + (f" (rows skipped: {'; '.join(why)})" if why else ""))
    builder = RunBuilder(ref, "mlflow")
    if why:
        builder.notes.append(f"skipped metric rows of the wrong type: {'; '.join(why)}")
    garbled = 0
    for raw, group in groupby(rows, key=itemgetter(0)):
        key = _text(raw)
        garbled += "\ufffd" in key and "\ufffd".encode() not in raw
        points = list(group)
        steps = np.array([p[1] for p in points], dtype=float)
        builder.add(key, steps, _values(points), "step")
    if garbled:
        builder.notes.append(f"{plural(garbled, 'metric name')} not UTF-8: undecodable bytes shown as U+FFFD")
    return builder.finish()


def _values(points: list[tuple]) -> np.ndarray:
    """Stored values with NaN (is_nan) and the Inf stand-ins restored."""
    values = np.array([float("nan") if is_nan else float(v) for _, _, v, is_nan in points])
    values[values >= _MAX] = np.inf
    values[values <= -_MAX] = -np.inf
    return values
