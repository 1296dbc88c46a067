"""The code the book shows fits its page: no line of dkr/ (or of the launcher)
is longer than LINE_LENGTH, which the book's content column shows whole at a
width of 1280 pixels (see docs/stylesheets/book.css). No root needed."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINE_LENGTH = 88


def test_every_line_of_the_runtime_fits_the_page():
    files = [*sorted((REPO / "dkr").rglob("*.py")), REPO / "bin" / "dkr"]
    long_lines = [f"{path.relative_to(REPO)}:{number}: {len(line)} characters"
                  for path in files
                  for number, line in enumerate(path.read_text().splitlines(), start=1)
                  if len(line) > LINE_LENGTH]
    assert not long_lines, "\n".join(long_lines)
