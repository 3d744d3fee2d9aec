"""PostgreSQL wake-ups: a thread that LISTENs on its own connection and pokes a WakeChannel.

NOTIFY crosses hosts, so an enqueue, a retry, a cancel or a stop request on one machine wakes
idle workers on every machine.  The thread reconnects with backoff when the server goes away
and pokes once after each (re)connection, since a notification may have been missed meanwhile.
"""
from __future__ import annotations

import select
import threading
import time

from ..wakeup import WakeChannel


class Listener(threading.Thread):
    def __init__(self, url: str, channel: WakeChannel, topic: str):
        super().__init__(name="queuectl-listen", daemon=True)
        from playhouse.db_url import parse

        self.params = parse(url)
        self.params.setdefault("connect_timeout", 5)
        self.channel = channel
        self.topic = topic
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        import psycopg2

        delay = 0.2
        while not self._stop.is_set():
            try:
                conn = psycopg2.connect(**self.params)
            except psycopg2.Error:
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            try:
                conn.autocommit = True
                conn.cursor().execute(f"LISTEN {self.topic}")
                self.channel.poke()
                delay = 0.2
                while not self._stop.is_set():
                    if select.select([conn], [], [], 1.0)[0]:
                        conn.poll()
                        if conn.notifies:
                            conn.notifies.clear()
                            self.channel.poke()
            except (psycopg2.Error, OSError):
                time.sleep(delay)
            finally:
                conn.close()


def wake_channel(url: str, name: str, topic: str) -> WakeChannel:
    channel = WakeChannel(None, name)
    listener = Listener(url, channel, topic)
    channel.on_close(listener.stop)
    listener.start()
    return channel
