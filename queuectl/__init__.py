"""queuectl: a durable background job queue for shell commands.

The engine (store, runner, worker, supervisor) and the click CLI; the dashboard is queuectl.tui.
"""

#: the one place the version is written (pyproject.toml reads it): a worker stores it with its
#: registration, and reading the installed metadata instead cost ~250 ms per worker start
__version__ = "0.1.0"
