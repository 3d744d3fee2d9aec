"""The errors a user can cause, each mapped to the exit code the CLI promises."""
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the operation was understood but could not be done (unknown id, wrong state)
    USAGE = 2  # bad input or bad usage; nothing was written
    TIMEOUT = 124  # like timeout(1)


class QueuectlError(Exception):
    """Base for errors that are reported to the user as one `Error: …` line."""

    exit_code = ExitCode.FAILED


class InputError(QueuectlError):
    """Something the user typed is invalid; the store was not touched."""

    exit_code = ExitCode.USAGE


class NotFound(QueuectlError):
    """No job (or worker, or setting) with that name."""


class InvalidState(QueuectlError):
    """The job exists but the requested transition is not allowed from its state."""


class StoreError(QueuectlError):
    """The store could not be opened or used (locked too long, newer schema, disk full)."""
