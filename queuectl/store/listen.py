"""PostgreSQL wake-ups: a thread that LISTENs on its own connection and passes each
notification on (pokes a WakeChannel, or wakes the workers of this host through their sockets).

NOTIFY crosses hosts, so an enqueue, a retry, a cancel or a stop request on one machine wakes
idle workers on every machine.  The thread reconnects with backoff when the server goes away
and pokes once after each (re)connection, since a notification may have been missed meanwhile.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..wakeup import WakeChannel, notify


class Listener(threading.Thread):
    def __init__(self, url: str, poke: Callable[[], None], topic: str | tuple[str, ...]):
        super().__init__(name="queuectl-listen", daemon=True)
        from playhouse.db_url import parse

        self.params = parse(url)
        self.params.setdefault("connect_timeout", 5)
        self.params.setdefault("application_name", "queuectl-listen")
        self.poke = poke
        self.topics = (topic,) if isinstance(topic, str) else topic
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        import psycopg2

        delay = 0.2
        while not self._stopped.is_set():
            try:
                conn = psycopg2.connect(**self.params)
            except psycopg2.Error:
                self._stopped.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            try:
                conn.autocommit = True
                for topic in self.topics:
                    conn.cursor().execute(f"LISTEN {topic}")
                self.poke()
                delay = 0.2
                while not self._stopped.is_set():
                    if select.select([conn], [], [], 1.0)[0]:
                        conn.poll()
                        if conn.notifies:
                            conn.notifies.clear()
                            self.poke()
            except (psycopg2.Error, OSError):
                time.sleep(delay)
            finally:
                conn.close()


def wake_channel(url: str, name: str, topic: str | tuple[str, ...]) -> WakeChannel:
    """A channel of this process's own, with a LISTEN connection of its own."""
    channel = WakeChannel(None, name)
    listener = Listener(url, channel.poke, topic)
    channel.on_close(listener.stop)
    listener.start()
    return channel


def forward_to_host(url: str, run_dir: Path, topic: str) -> Listener:
    """One LISTEN connection for the whole host (the supervisor's): each notification wakes
    every worker of this host through its socket in run_dir, so that a worker process holds
    one connection to the server, not two."""
    listener = Listener(url, lambda: notify(run_dir), topic)
    listener.start()
    return listener
