"""Growing text logs read incrementally: CSV-like tables and JSON lines.

Only whole lines are parsed (a line still being written waits for its newline), with the
readers' own parsers: a table's new lines are parsed below the header line remembered
from the start of the file (`csv_logs.parse_rows`), JSON lines one by one
(`jsonl._parse_line`). The points are kept per series as chunks and the Run is built from
them with the same `RunBuilder` as a whole-file read, so restarts and ties are handled the
same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..frame import Run
from ..numfmt import plural
from .columns import RunBuilder
from .csv_logs import TableShape, parse_rows, sniff_table, table_points
from .jsonl import MAX_LINE_CHARS, _parse_line
from .records import add_records, flatten_all
from .tail import Chunk, Tail
from .text import decode


def whole_lines(chunk: Chunk) -> tuple[str, int]:
    """The chunk's complete lines as text (newlines normalised) and how many bytes they use."""
    cut = chunk.data.rfind(b"\n") + 1
    if not cut:
        return "", 0
    text = decode(chunk.data[:cut])
    return text.replace("\r\n", "\n").replace("\r", "\n"), cut


class LineFollower:
    """A growing text log read line by line from the offset reached (subclasses parse)."""

    def __init__(self, path: str, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self.tail = Tail(path)
        self.reset()

    def reset(self) -> None:
        """Forget everything read (the file was rewritten)."""

    def take(self, text: str) -> None:
        """Parse some whole lines."""
        raise NotImplementedError

    def poll(self) -> bool:
        """Read the new whole lines; True when any were read."""
        changed = False
        while (chunk := self.tail.read()) is not None:
            if chunk.fresh:
                self.reset()
                changed = True
            text, used = whole_lines(chunk)
            if not used:
                break
            self.take(text)
            self.tail.advance(chunk, used)
            changed = True
        return changed


class CsvFollower(LineFollower):
    """A CSV-like table: the header is read once, then only the rows below the offset."""

    def reset(self) -> None:
        self.shape: TableShape | None = None
        self.header = ""
        self.rows = 0
        self.points: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.axis: dict[str, str] = {}
        self.notes: list[str] = []

    def take(self, text: str) -> None:
        if self.shape is None:
            shape = sniff_table(text)
            if shape is None:
                return  # blank lines so far
            lines = text.split("\n")
            self.shape, self.header = shape, lines[shape.skip]
            text = "\n".join(lines[shape.skip + 1:])
        if not text.strip():
            return
        names, rows, cells = parse_rows(Path(self.path), self.header + "\n" + text, self.shape)
        for name, steps, values, axis in table_points(names, rows, cells, self.notes):
            if axis == "row":
                steps = steps + self.rows
            self.points.setdefault(name, []).append((steps, values))
            self.axis[name] = axis
        self.rows += rows

    def run(self) -> Run:
        """The table as read so far."""
        builder = RunBuilder(self.path, self.fmt)
        builder.notes.extend(dict.fromkeys(self.notes))
        for name, chunks in self.points.items():
            builder.add(name, np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks]),
                        self.axis[name])
        if not builder.run.series:
            raise InputError(self.path, "no data rows yet" if self.shape else "empty file")
        return builder.finish()


class JsonlFollower(LineFollower):
    """JSON lines: each new whole line parsed on its own; garbage lines counted, not fatal."""

    def reset(self) -> None:
        self.records: list[dict] = []
        self.bad = 0

    def take(self, text: str) -> None:
        for line in text.split("\n"):
            if not line.strip():
                continue
            record = _parse_line(line) if len(line) <= MAX_LINE_CHARS else None
            if record is None:
                self.bad += 1
            else:
                self.records.append(record)

    def run(self) -> Run:
        """The records read so far."""
        if not self.records:
            raise InputError(self.path, "no JSON records yet")
        builder = RunBuilder(self.path, self.fmt)
        if self.bad:
            builder.notes.append(f"skipped {plural(self.bad, 'line')} holding no JSON object")
        add_records(builder, flatten_all(self.records))
        return builder.finish()
