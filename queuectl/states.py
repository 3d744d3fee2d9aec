"""The states of a job (no database code, so the CLI can name them without loading peewee)."""

from enum import Enum


class JobState(str, Enum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"  # waiting for its dependencies

    def __str__(self) -> str:
        return self.value


#: states a job never leaves by itself
FINISHED_STATES = (JobState.COMPLETED, JobState.DEAD, JobState.CANCELLED)
#: the same, as the store spells them (SQL parameters, command choices)
FINISHED = tuple(state.value for state in FINISHED_STATES)
#: states in which a unique_key is taken
ACTIVE_STATES = (JobState.PENDING, JobState.BLOCKED, JobState.PROCESSING, JobState.FAILED)
