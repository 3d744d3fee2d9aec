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
#: states from which a worker may claim a job once its `next_attempt_at` has come
CLAIMABLE_STATES = (JobState.PENDING, JobState.FAILED)
#: states in which a unique_key is taken
ACTIVE_STATES = (JobState.PENDING, JobState.BLOCKED, JobState.PROCESSING, JobState.FAILED)
