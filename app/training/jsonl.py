"""Reading the train command's JSON-lines event stream incrementally (no Qt).

A pipe delivers bytes in arbitrary pieces: a line may arrive in several chunks, a multi-byte
character may be cut in two, and a process that crashes mid-write leaves half a line. The parser
keeps the unfinished tail and hands each complete line to `detr_core.train.events.parse_event`,
the contract's own decoder (schema 1); a line that is not an event becomes a text line for the log.

    parser = JsonLinesParser()
    for item in parser.feed(chunk):          # -> detr_core.train.events.Event | str
        ...
    for item in parser.finish():             # at end of stream: the last line without "\\n"
        ...
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from detr_core.train.events import Event, EventError, parse_event

MAX_LINE_BYTES = 16 * 1024 * 1024  # a longer "line" is not an event: dropped, reported as text


@dataclass(frozen=True)
class BadLine:
    """A line that looked like an event but broke the contract (shown in the log)."""
    text: str
    reason: str

    def __str__(self) -> str:
        return f"unreadable event ({self.reason}): {self.text[:200]}"


class JsonLinesParser:
    """Bytes in, events and text lines out, in stream order. `skip`: event types not wanted
    (parsed, then dropped without building the event)."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES, skip: Collection[str] = ()):
        self.max_line_bytes = max_line_bytes
        self.skip = frozenset(skip)
        self._tail = b""
        self._dropping = False  # inside an over-long line: skip to its end
        self.bad_lines = 0

    def feed(self, data: bytes) -> list[Event | str]:
        """The complete lines that `data` finishes, parsed; the rest waits for more bytes."""
        chunk = self._tail + data
        *lines, self._tail = chunk.split(b"\n")
        out: list[Event | str] = []
        for raw in lines:
            if self._dropping:  # the end of an over-long line
                self._dropping = False
                continue
            out.extend(self._parse(raw))
        if len(self._tail) > self.max_line_bytes:
            self._tail = b""
            if not self._dropping:  # said once per line
                self._dropping = True
                self.bad_lines += 1
                out.append(f"dropped a line longer than {self.max_line_bytes} bytes")
        return out

    def finish(self) -> list[Event | str]:
        """End of stream: a last line without its newline (e.g. cut by a crash)."""
        raw, self._tail = self._tail, b""
        dropping, self._dropping = self._dropping, False
        return [] if dropping or not raw.strip() else self._parse(raw)

    def _parse(self, raw: bytes) -> list[Event | str]:
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            return []
        if not text.startswith("{"):
            return [text]  # not ours: printed by a library, shown in the log
        try:
            event = parse_event(text, skip=self.skip)
        except EventError as e:
            self.bad_lines += 1
            return [str(BadLine(text, str(e)))]
        return [] if event is None else [event]
