"""Issue 15 in the dashboard: z pauses the job under the cursor (through ops.pause) and shows it
as paused; z again resumes it."""

from __future__ import annotations

from textual.widgets import DataTable

from queuectl import store

from .conftest import settle


async def test_z_pauses_and_resumes_a_waiting_job(ops_seeded, make_app):
    app = make_app(clock=ops_seeded)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        job_id = app.query_one("#jobs-pane").selected_id  # the newest job: pending
        assert store.get_job(job_id).state == "pending"
        await pilot.press("z")
        await settle(pilot)
        assert store.get_job(job_id).paused
        assert f"queuectl pause {job_id}" in app.commands
        table = app.query_one("#jobs-table", DataTable)
        assert str(table.get_cell(job_id, "state")).startswith("paused")
        await pilot.press("z")
        await settle(pilot)
        assert not store.get_job(job_id).paused
        assert f"queuectl resume {job_id}" in app.commands
