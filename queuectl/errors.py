"""The errors a user can cause, each mapped to the exit code the CLI promises."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the operation was understood but could not be done (unknown id, wrong state)
    USAGE = 2  # bad input or bad usage; nothing was written
    #: a worker's exit when the store cannot be used (StoreUnusable): its supervisor stops
    #: every worker instead of restarting it
    UNUSABLE = 3
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


class NoStore(QueuectlError):
    """A command that only reads found no store where it looked (and made none)."""


class StoreUnusable(QueuectlError):
    """The store, or a folder beside it, is in a state that no retry mends: not a queuectl
    store, planted by another user, a folder that cannot be made.  A worker stops on it
    instead of retrying; the CLI reports it as one line."""


class StoreDamaged(StoreUnusable):
    """The store file is corrupt or lost part of its schema."""


def first_line(exc: BaseException) -> str:
    """A database error (whose text may run to several lines: a hint, the statement) as the one
    line a person reads."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
