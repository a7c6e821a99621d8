"""The fuzzer's inputs: seed units from tests/data and the mutations applied to them.

A seed unit is what discovery needs to sniff a log as its format: one file under its
parent folder's name (`checkpoint-12/trainer_state.json`, `offline-run-.../run-x.wandb`),
or a whole small run folder (an MLflow file-store run: meta.yaml, metrics/, params/).
A mutant is the unit with one file changed by one to three mutations, written under the
same names, so the reader that would get the real file gets the mutant.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import sqlite3
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

MAX_SEED = 1 << 20  # seeds over 1 MB are left out: a mutant must be quick to run
MAX_MUTANT = 4 << 20  # repeats and splices stop growing a mutant here
TEXT_SUFFIXES = (".csv", ".json", ".jsonl", ".txt", ".log", ".tsv")
SKIP_NAMES = {"README.md", "PROVENANCE.md", "MANIFEST.yaml", "labels.yaml", "requirements.txt"}

# Strings a hostile log carries in its names: CI workflow commands after a newline, ESC
# sequences (clear screen, set title), bidi overrides, C1 controls, NUL, surrogates.
INJECTIONS = ("\n::error::FUZZ-INJECTED", "\n::add-mask::FUZZ", "\n::stop-commands::fuzz", "\r::warning::FUZZ",
              "\x1b[2J", "\x1b]0;FUZZ-TITLE\x07", "\x1b[31m", "\u202e", "\x85::error::FUZZ", "\x00", "\x7f",
              "\t", "`<b>x</b>`", "](http://x)", "=cmd|' /C calc'!A0", "##[error]FUZZ", "%0A::error::x")
JSON_INJECTIONS = ("\\n::error::FUZZ-INJECTED", "\\u001b[2J", "\\u001b]0;FUZZ\\u0007", "\\ud800", "\\udfff",
                   "\\u0000", "\\r::add-mask::x", "\\u202e", "\\u0085::error::x")
NUMBERS = ("9" * 5000, "-" + "9" * 4400, "1" + "0" * 400, "nan", "NaN", "-nan", "inf", "-inf", "Infinity",
           "1e309", "-1e309", "1e-400", "0", "-0", "1e18", "18446744073709551616", "0x10", "1_000", "", "null",
           "true", "\"x\"", "[]", "{}", "1.5.5", "--1", "9" * 20)
NUMBER_RE = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
JSON_KEY_RE = re.compile(rb'"([^"\\\n]{1,60})"\s*:')
PRINTABLE_RE = re.compile(rb"[A-Za-z_/][A-Za-z0-9_/.\-]{3,}")


@dataclass(frozen=True)
class Seed:
    """A unit: its files relative to `base`; `target` is what `diagnose` is given."""

    base: Path
    files: tuple[str, ...]
    target: str  # a path relative to base: the one file, or the run folder

    @property
    def name(self) -> str:
        return self.target


def _is_seed_file(path: Path) -> bool:
    if path.name in SKIP_NAMES or path.suffix in (".py", ".md", ".png", ".pt", ".pth", ".bin", ".safetensors"):
        return False
    size = path.stat().st_size
    if not 0 < size < MAX_SEED:
        return False
    return (path.suffix in TEXT_SUFFIXES or "tfevents" in path.name or path.suffix == ".wandb"
            or path.name == "mlflow.db")


def _run_folder(path: Path) -> Optional[Path]:
    """The MLflow file-store run folder holding this file, if any."""
    for parent in path.parents:
        if (parent / "meta.yaml").is_file() and (parent / "metrics").is_dir():
            return parent
    return None


def seeds(data: Path) -> list[Seed]:
    """Every small log under `data`, and every MLflow file-store run folder, sorted (so a seed
    number means the same unit on every machine)."""
    units: dict[str, Seed] = {}
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        if "fuzz" in path.relative_to(data).parts[:1] or "datasets" in path.parts:
            continue  # the regression inputs are replayed, not mutated
        run = _run_folder(path)
        if run is not None:
            files = tuple(sorted(str(p.relative_to(run.parent)) for p in run.rglob("*") if p.is_file()))
            units.setdefault(str(run), Seed(run.parent, files, run.name))
        elif _is_seed_file(path):
            rel = f"{path.parent.name}/{path.name}"
            units[str(path)] = Seed(path.parent.parent, (rel,), rel)
    return [units[k] for k in sorted(units)]


# --- byte mutations: each takes (rng, data, other) and returns new bytes ------------------

def _pos(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


def bit_flip(rng: random.Random, data: bytes, other: bytes) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8, 32))):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def byte_insert(rng: random.Random, data: bytes, other: bytes) -> bytes:
    i = _pos(rng, data)
    junk = rng.choice((bytes([rng.randrange(256)]), rng.randbytes(rng.randrange(1, 64)), b"\xff\xfe", b"\xed\xa0\x80",
                       b"\x00" * rng.randrange(1, 16), b"\n", b",", b'"', b"{", b"}", b"\r\n"))
    return data[:i] + junk + data[i:]


def byte_delete(rng: random.Random, data: bytes, other: bytes) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.choice((1, 1, 4, 16, 256, 4096)):]


def truncate(rng: random.Random, data: bytes, other: bytes) -> bytes:
    return data[:rng.choice((0, 1, rng.randrange(len(data) + 1), max(0, len(data) - rng.randrange(1, 64))))]


def splice(rng: random.Random, data: bytes, other: bytes) -> bytes:
    return data[:_pos(rng, data)] + other[_pos(rng, other):]


def repeat_chunk(rng: random.Random, data: bytes, other: bytes) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    chunk = data[i:i + rng.choice((1, 8, 64, 1024, 16384))]
    times = rng.choice((2, 10, 100, 1000, 10000))
    times = max(1, min(times, (MAX_MUTANT - len(data)) // max(1, len(chunk))))
    return data[:i] + chunk * times + data[i:]


def replace_number(rng: random.Random, data: bytes, other: bytes) -> bytes:
    hits = list(NUMBER_RE.finditer(data[:MAX_SEED]))
    if not hits:
        return byte_insert(rng, data, other)
    out = data
    for m in sorted(rng.sample(hits, min(len(hits), rng.choice((1, 1, 3, 20)))), key=lambda m: -m.start()):
        out = out[:m.start()] + rng.choice(NUMBERS).encode() + out[m.end():]
    return out


def inject_control(rng: random.Random, data: bytes, other: bytes) -> bytes:
    i = _pos(rng, data)
    return data[:i] + rng.choice(INJECTIONS).encode("utf-8", "surrogatepass") + data[i:]


def inject_name(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """A hostile string inside a name: a JSON key, a CSV header cell, or (in a binary file) an
    ASCII run overwritten in place, so length checksums still hold."""
    keys = list(JSON_KEY_RE.finditer(data[:MAX_SEED]))
    if keys:
        m = rng.choice(keys)
        at = rng.choice((m.start(1), m.end(1)))
        return data[:at] + rng.choice(JSON_INJECTIONS).encode() + data[at:]
    head, nl, rest = data.partition(b"\n")
    if nl and b"," in head and b"\x00" not in head:
        cells = head.split(b",")
        k = rng.randrange(len(cells))
        cells[k] = cells[k] + rng.choice(INJECTIONS).replace("\n", "\\n").encode("utf-8", "surrogatepass")
        if rng.random() < 0.5:
            cells[k] = b'"' + cells[k].replace(b'"', b'""') + rng.choice(INJECTIONS).encode() + b'"'
        return b",".join(cells) + nl + rest
    runs = list(PRINTABLE_RE.finditer(data[:MAX_SEED]))
    if not runs:
        return inject_control(rng, data, other)
    m = rng.choice(runs)
    evil = rng.choice(INJECTIONS).encode("utf-8", "surrogatepass")[:m.end() - m.start()]
    return data[:m.start()] + evil + data[m.start() + len(evil):]


def shuffle_lines(rng: random.Random, data: bytes, other: bytes) -> bytes:
    lines = data.split(b"\n")
    if len(lines) < 3:
        return data
    i, j = sorted(rng.sample(range(len(lines)), 2))
    op = rng.randrange(3)
    if op == 0:
        lines[i], lines[j] = lines[j], lines[i]
    elif op == 1:
        del lines[i:j]
    else:
        lines[i:i] = lines[i:j] * rng.choice((2, 10))
    return b"\n".join(lines)


# Whole curves of a pathological shape, as functions of (row index, rows, the old text).
PATTERNS: tuple[Callable[[int, int, bytes], str], ...] = (
    lambda i, n, old: "0.5", lambda i, n, old: "0", lambda i, n, old: "-" + old.decode("latin-1"),
    lambda i, n, old: "nan", lambda i, n, old: "1e308", lambda i, n, old: "5e-324",
    lambda i, n, old: "1e300" if i % 2 else "1e-300", lambda i, n, old: str(n - i), lambda i, n, old: "7",
    lambda i, n, old: str(10 ** 18 + i), lambda i, n, old: str(-i), lambda i, n, old: "1e6" if i % 3 == 2 else "1",
    lambda i, n, old: repr(1.5 ** i) if i < 1700 else "inf", lambda i, n, old: str((i * 7919) % 13),
    lambda i, n, old: "inf" if i == n // 2 else old.decode("latin-1"), lambda i, n, old: str(i // 1000),
)
NUMBER_VALUE_RE = rb'("%s"\s*:\s*)(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|NaN|-?Infinity)'


def rewrite_column(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """One whole series rewritten to a pathological curve: a CSV column, or every value of one
    JSON key (constant, NaN, 1e308 / 5e-324, alternating 1e300 and 1e-300, decreasing or
    duplicated or 10^18 steps, growth into inf, ...)."""
    pattern = rng.choice(PATTERNS)
    keys = sorted({m.group(1) for m in JSON_KEY_RE.finditer(data[:MAX_SEED])})
    if keys:
        key = re.escape(rng.choice(keys))
        hits = re.compile(NUMBER_VALUE_RE % key)
        n = len(hits.findall(data))
        count = iter(range(n))
        return hits.sub(lambda m: m.group(1) + pattern(next(count), n, m.group(2)).encode(), data)
    lines = data.split(b"\n")
    sep = max((b",", b";", b"\t"), key=lines[0].count)
    width = lines[0].count(sep) + 1
    if width < 2 or len(lines) < 3:
        return replace_number(rng, data, other)
    k, n = rng.randrange(width), len(lines) - 1
    for i in range(1, len(lines)):
        cells = lines[i].split(sep)
        if len(cells) > k:
            cells[k] = pattern(i - 1, n, cells[k]).encode()
            lines[i] = sep.join(cells)
    return b"\n".join(lines)


def grow_rows(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """The rows after the first line repeated (a long curve: what is O(n^2) in the points
    shows here); at most MAX_MUTANT / 2 bytes."""
    head, nl, rest = data.partition(b"\n")
    if not rest:
        return data
    times = max(1, min(rng.choice((10, 100, 1000)), (MAX_MUTANT // 2) // len(rest)))
    return head + nl + (rest if rest.endswith(b"\n") else rest + b"\n") * times


def _crc(raw: bytes) -> bytes:
    from lossdoctor.sources.tfrecord import crc32c_py, masked

    return struct.pack("<I", masked(crc32c_py(raw)))


def tfrecord_edit(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Mutate one record's payload and fix both checksums, so the reader gets past the framing
    into the protobuf; or give one record a huge length whose header checksum holds."""
    records, pos = [], 0
    while pos + 12 <= len(data) and len(records) < 100000:
        (n,) = struct.unpack_from("<Q", data, pos)
        if pos + 16 + n > len(data):
            break
        records.append((pos, n))
        pos += 16 + n
    if not records:
        return bit_flip(rng, data, other)
    start, n = rng.choice(records)
    if rng.random() < 0.15:
        head = struct.pack("<Q", rng.choice((1 << 60, 1 << 31, n + 1, max(0, n - 1), 0)))
        return data[:start] + head + _crc(head) + data[start + 12:]
    body = data[start + 12:start + 12 + n]
    body = rng.choice((bit_flip, byte_insert, byte_delete, truncate, replace_number, inject_name))(rng, body, other)
    head = struct.pack("<Q", len(body))
    return data[:start] + head + _crc(head) + body + _crc(body) + data[start + 16 + n:]


def _wandb_chunks(data: bytes) -> list[tuple[int, int, int]]:
    """(header offset, length, type) of each chunk of a W&B transaction log (a LevelDB log
    after a 7-byte header, in 32 KiB blocks; see lossdoctor/sources/wandb_log.py)."""
    chunks, pos = [], 7
    while pos + 7 <= len(data):
        room = 32768 - pos % 32768
        if room < 7:
            pos += room
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        if kind not in (1, 2, 3, 4) or length > room - 7 or pos + 7 + length > len(data):
            break
        chunks.append((pos, length, kind))
        pos += 7 + length
    return chunks


def wandb_edit(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Change one chunk's payload in place (same length, so the framing holds) and fix its
    CRC-32, so the reader gets past the checksums into the protobuf records."""
    chunks = _wandb_chunks(data)
    if not chunks:
        return bit_flip(rng, data, other)
    pos, length, kind = rng.choice(chunks)
    body = data[pos + 7:pos + 7 + length]
    edit = rng.choice((bit_flip, inject_name, replace_number))(rng, body, other)
    body = (edit + body[len(edit):])[:length]
    crc = zlib.crc32(body, zlib.crc32(bytes([kind])))
    return data[:pos] + crc.to_bytes(4, "little") + data[pos + 4:pos + 7] + body + data[pos + 7 + length:]


BYTE_MUTATORS: tuple[Callable[[random.Random, bytes, bytes], bytes], ...] = (
    bit_flip, byte_insert, byte_delete, truncate, splice, repeat_chunk, replace_number, replace_number,
    inject_control, inject_name, inject_name, shuffle_lines)

SQL_EDITS = (
    "UPDATE metrics SET value = {v} WHERE rowid % {m} = {r}",
    "UPDATE metrics SET step = {v} WHERE rowid % {m} = {r}",
    "UPDATE metrics SET key = {s} WHERE rowid % {m} = {r}",
    "UPDATE runs SET run_uuid = {s} WHERE rowid % {m} = {r}",
    "UPDATE runs SET name = {s}", "UPDATE experiments SET name = {s}",
    "UPDATE latest_metrics SET key = {s}", "UPDATE params SET value = {s}", "UPDATE tags SET value = {s}",
    "DELETE FROM metrics WHERE rowid % {m} = {r}",
    "DROP TABLE {t}",
)
SQL_VALUES = ("NULL", "'abc'", "X'00ff'", "9223372036854775807", "-9223372036854775808", "1e308*10", "'nan'",
              "'" + "9" * 5000 + "'", "CAST(X'ff fe' AS TEXT)", "0.5")
SQL_STRINGS = ("NULL", "'loss\n::error::FUZZ-INJECTED'", "char(27)||'[2J'", "'a#b'", "CAST(X'c3' AS TEXT)",
               "''", "'..'", "'../../etc'", "X'00'", "'\u202eloss'")
SQL_TABLES = ("metrics", "runs", "experiments", "latest_metrics", "params", "tags")


def sqlite_edit(rng: random.Random, path: Path) -> None:
    """Edit an mlflow.db through SQL: wrong types, NULL keys, hostile names, a missing table."""
    con = sqlite3.connect(path)
    try:
        for _ in range(rng.randint(1, 3)):
            m = rng.choice((1, 2, 7, 100))  # which rows: rowid % m == r (SQLite's random() is not ours)
            sql = rng.choice(SQL_EDITS).format(v=rng.choice(SQL_VALUES), s=rng.choice(SQL_STRINGS),
                                                m=m, r=rng.randrange(m), t=rng.choice(SQL_TABLES))
            try:
                con.execute(sql)
            except sqlite3.Error:
                pass  # a constraint or a dropped table: the next edit may still apply
        con.commit()
    finally:
        con.close()


def mutate_bytes(rng: random.Random, name: str, data: bytes, other: bytes) -> tuple[bytes, list[str]]:
    """One to three mutations; the names of those applied (the input's history, for the report)."""
    applied = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        binary = "tfevents" in name or name.endswith((".wandb", ".db"))
        pool = BYTE_MUTATORS + ((tfrecord_edit,) * 6 if "tfevents" in name else ()) + (
            (rewrite_column,) * 4 + (grow_rows,) if not binary else ()) + (
            (wandb_edit,) * 6 if name.endswith(".wandb") else ())
        fn = rng.choice(pool)
        try:
            data = fn(rng, data, other)[:MAX_MUTANT]
        except Exception as exc:  # noqa: BLE001 - a bug in a mutator must not end a long run
            print(f"fuzz: mutator {fn.__name__} failed on {name}: {exc!r}", file=sys.stderr)
            continue
        applied.append(fn.__name__)
    return data, applied


def hostile_dirname(rng: random.Random) -> str:
    """A folder name from the data (file names reach the report too); no `/`, no NUL. One in
    four is not UTF-8 (a Latin-1 byte, as old experiment folders have): Python reads it as a
    lone surrogate, which no UTF-8 output can hold as it is."""
    if rng.random() < 0.25:
        return "run" + os.fsdecode(bytes([rng.randrange(0x80, 0x100)]))
    return "run" + rng.choice(INJECTIONS).replace("\x00", "").replace("/", "")


def write_mutant(rng: random.Random, seed: Seed, other: Seed, into: Path) -> tuple[str, list[str]]:
    """Copy `seed` into `into` with one file mutated; returns the target (relative to `into`)
    and what was done."""
    prefix = hostile_dirname(rng) if rng.random() < 0.08 else ""
    root = into / prefix if prefix else into
    for rel in seed.files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seed.base / rel, root / rel)
    victim = rng.choice(seed.files)
    done = [f"mutate {victim}"] + ([f"under folder {prefix!r}"] if prefix else [])
    path = root / victim
    if path.name == "mlflow.db" and rng.random() < 0.5:
        sqlite_edit(rng, path)
        done.append("sqlite_edit")
    else:
        donor = other.base / rng.choice(other.files)
        data, applied = mutate_bytes(rng, path.name, path.read_bytes(), donor.read_bytes()[:MAX_SEED])
        path.write_bytes(data)
        done += applied
    if len(seed.files) > 1 and rng.random() < 0.1:  # a file name from the data (an MLflow metric)
        renamed = path.with_name(path.name + rng.choice(INJECTIONS).replace("\x00", "").replace("/", ""))
        path.rename(renamed)
        done.append(f"rename to {renamed.name!r}")
    return (f"{prefix}/{seed.target}" if prefix else seed.target), done
