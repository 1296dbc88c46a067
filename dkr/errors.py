# chapter: 1
"""Errors a user can cause, reported as one line with Docker's exit codes."""

from __future__ import annotations

import contextlib
import os

EXIT_DKR_FAILED = 125
EXIT_CANNOT_INVOKE = 126
EXIT_NOT_FOUND = 127
# How a hint names dkr: a command that works as it is from a clone.
DKR = "python3 -m dkr"
# Longer arguments are cut in messages: one line stays one line.
SHOWN_LENGTH = 200


class DkrError(Exception):
    """A failure dkr reports as `dkr: <message>` and exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_DKR_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def describe(error: BaseException) -> str:
    """An error as one readable line: "mount: Permission denied: /proc"."""
    if isinstance(error, OSError):
        text = error.strerror or str(error)
        name = error.filename
        if name is None or name == "":
            return text
        shown = os.fsdecode(name) if isinstance(name, (str, bytes)) else str(name)
        return f"{text}: {shorten(shown)}"
    return str(error) or type(error).__name__


def shorten(text: str) -> str:
    """`text` cut to SHOWN_LENGTH characters (`report` shows a line break as \\n)."""
    return text if len(text) <= SHOWN_LENGTH else text[:SHOWN_LENGTH - 3] + "..."


def report(message: str, who: str = "dkr") -> None:
    """Write `dkr: message` (or `WHO: message`) to standard error, as one line.

    Straight to file descriptor 2, not through sys.stderr: Python has no
    stderr object when dkr was started with it closed, and bytes that are
    not UTF-8 (a file name, say) are written back as they came.
    """
    line = f"{who}: {message}".replace("\n", "\\n") + "\n"
    with contextlib.suppress(OSError):  # nowhere to say it
        os.write(2, line.encode(errors="surrogateescape"))


def warn(message: str) -> None:
    """A problem that does not stop dkr, as one line."""
    report(f"warning: {message}")


class CleanUp(contextlib.ExitStack):
    """An ExitStack whose clean-up errors never hide the error that caused it.

    When the body fails, each clean-up step still runs; a step that fails
    then is reported as a warning, and the body's error is the one raised.
    """

    def __exit__(self, kind, error, traceback) -> bool:  # type: ignore[override]
        try:
            return super().__exit__(kind, error, traceback)
        except BaseException as failed:
            if error is None:
                raise
            while failed is not None and failed is not error:
                warn(f"clean-up after the error: {describe(failed)}")
                failed = failed.__context__
            return False
