# chapter: 9
"""Lists as Docker prints them: its tables, and its "3 days" of a duration."""

from __future__ import annotations

from typing import Sequence

# Docker's units for a duration, largest first.
UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400),
         ("day", 86400), ("hour", 3600), ("minute", 60))


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Print `rows` (the header first) in columns three spaces apart, each
    as wide as its widest cell but the last, which is not padded."""
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]) - 1)]
    for row in rows:
        print("   ".join(cell.ljust(width) for cell, width in zip(row, widths))
              + "   " + row[-1])


def duration(seconds: float) -> str | None:
    """`seconds` in Docker's largest whole unit, such as "3 days"; None
    under a minute, which each list words its own way."""
    for unit, length in UNITS:
        if seconds >= length:
            count = int(seconds // length)
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return None
