# chapter: 1
"""Errors a user can cause, reported as one line with Docker's exit codes."""

from __future__ import annotations

EXIT_DKR_FAILED = 125
EXIT_CANNOT_INVOKE = 126
EXIT_NOT_FOUND = 127


class DkrError(Exception):
    """A failure dkr reports as `dkr: <message>` and exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_DKR_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def describe(error: OSError) -> str:
    """An OSError as one readable line: "mount: Permission denied: /proc"."""
    text = error.strerror or str(error)
    return f"{text}: {error.filename}" if error.filename else text
