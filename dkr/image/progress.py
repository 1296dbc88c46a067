# chapter: 9
"""What a pull shows while it runs, as Docker shows it.

On a terminal, one line per layer, redrawn in place:

    3f4ca61aafcd: Downloading  12.6MB/45.2MB  8.1MB/s
    9a0b0ce99936: Already exists

Elsewhere (a log, a pipe) a line each time a layer's state changes, and
with `--quiet` nothing but the image's name at the end.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from dkr.image.store import Digest

REDRAW = 0.1  # seconds between redraws on a terminal


def human(size: float) -> str:
    """Bytes as Docker writes them: 12.6MB (units of 1000)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1000
    raise AssertionError("unreachable")


@dataclass
class Line:
    """One layer's line."""

    size: int
    state: str = "Waiting"
    done: int = 0
    started: float = 0.0
    start_offset: int = 0

    def text(self, short: str, counts: bool = True) -> str:
        if self.state != "Downloading" or not counts:
            return f"{short}: {self.state}"
        seconds = max(time.monotonic() - self.started, 1e-3)
        speed = (self.done - self.start_offset) / seconds
        return (f"{short}: Downloading  {human(self.done)}/{human(self.size)}  "
                f"{human(speed)}/s")


@dataclass
class Progress:
    """The layers of one pull and their states; thread-safe."""

    mode: str = "plain"  # "terminal", "plain" or "quiet"
    fd: int = 1
    lines: dict[Digest, Line] = field(default_factory=dict)
    drawn: int = 0
    last_draw: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_output(cls, quiet: bool) -> Progress:
        if quiet:
            return cls("quiet")
        return cls("terminal" if os.isatty(1) else "plain")

    def say(self, text: str) -> None:
        """A line of its own (above the layers' lines on a terminal)."""
        if self.mode != "quiet":
            with self._lock:
                self._write(text + "\n")

    def add(self, digest: Digest, size: int) -> None:
        with self._lock:
            self.lines[digest] = Line(size)
            self._changed(digest)

    def state(self, digest: Digest, state: str, offset: int = 0) -> None:
        with self._lock:
            line = self.lines[digest]
            if state == "Downloading":
                line.started = time.monotonic()
                line.done = line.start_offset = offset
            line.state = state
            self._changed(digest)

    def advance(self, digest: Digest, count: int) -> None:
        with self._lock:
            self.lines[digest].done += count
            if self.mode == "terminal" and time.monotonic() - self.last_draw > REDRAW:
                self._draw()

    def done(self, digest: Digest, state: str) -> None:
        self.state(digest, state)

    def finish(self) -> None:
        with self._lock:
            if self.mode == "terminal":
                self._draw()

    def _changed(self, digest: Digest) -> None:
        if self.mode == "plain" and self.lines[digest].state != "Waiting":
            self._write(self.lines[digest].text(digest.hex[:12], counts=False) + "\n")
        elif self.mode == "terminal":
            self._draw()

    def _draw(self) -> None:
        """Redraw every layer's line in place: up over the lines drawn last
        time, then each line cleared and written again."""
        text = "\x1b[A" * self.drawn
        text += "".join(f"\r\x1b[K{line.text(digest.hex[:12])}\n"
                        for digest, line in self.lines.items())
        self.drawn = len(self.lines)
        self.last_draw = time.monotonic()
        self._write(text)

    def _write(self, text: str) -> None:
        data = text.encode()
        while data:
            data = data[os.write(self.fd, data):]
