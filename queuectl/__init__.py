"""queuectl: a durable background job queue for shell commands.

The engine (store, runner, worker, supervisor) and the click CLI; the dashboard is queuectl.tui.
"""
