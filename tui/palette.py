"""The command palette's job search: type part of a job id or command to open that job."""

from __future__ import annotations

import asyncio

from textual.command import Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from queuectl import store
from queuectl.errors import QueuectlError
from queuectl.render import clean

#: jobs offered per search
MATCHES = 8


class JobJumpProvider(Provider):
    async def search(self, query: str) -> Hits:
        text = query.strip()
        if len(text) < 2:
            return
        app = self.app
        try:
            jobs = await asyncio.to_thread(store.list_jobs, None, MATCHES, None, text)
        except QueuectlError:
            return
        matcher = self.matcher(text)
        for job in jobs:
            title = f"jobs: open {clean(job.id)} ({job.state}) — {clean(job.command, 40)}"
            yield Hit(
                max(matcher.match(title), 0.5),
                _highlight(matcher, title),
                lambda j=job.id: app.request("open_job", j),
                help="job detail: fields, attempts, output",
            )


def _highlight(matcher: Matcher, title: str) -> Content:
    """matcher.highlight(title), on plain text: it reads its text as markup, so a command such
    as `echo [/var/log]` broke the search (and `[i]` vanished)."""
    content = Content(title)
    for offset in matcher.fuzzy_search.match(matcher.query, title)[1]:
        if not title[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
