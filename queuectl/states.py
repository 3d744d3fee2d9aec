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
#: states a claim takes jobs from: pending, and failed once its retry is due
CLAIMABLE_STATES = (JobState.PENDING, JobState.FAILED)
#: the states every view lists, in display order; BLOCKED is shown where there are blocked jobs
SHOWN_STATES = (
    JobState.PENDING,
    JobState.PROCESSING,
    JobState.COMPLETED,
    JobState.FAILED,
    JobState.DEAD,
    JobState.CANCELLED,
)

#: One colour per state, for the CLI's tables and the dashboard alike, on every theme (issue 25):
#: each a hue of its own (red, orange, green, cerulean, blue, magenta, and grey for cancelled),
#: all of one luminance, so that each reads on dark (4.4:1 on #121212) and light (3.3:1 on
#: #E0E0E0) backgrounds.  The state's word is always shown beside its colour, so that NO_COLOR
#: and colour-blind users lose nothing.
STATE_COLOURS = {
    JobState.PENDING: "#6E6EDB",
    JobState.PROCESSING: "#0085A6",
    JobState.COMPLETED: "#238D23",
    JobState.FAILED: "#BE6105",
    JobState.DEAD: "#E33939",
    JobState.CANCELLED: "#7A7A7A",
    JobState.BLOCKED: "#BE45C9",
}


def sql_literals(*states: JobState) -> str:
    """The states as SQL literals, comma-separated (`'pending', 'failed'`): for SQL text that must
    name them, not take them as parameters (partial indexes and the queries they serve, triggers)."""
    return ", ".join(f"'{JobState(state).value}'" for state in states)
