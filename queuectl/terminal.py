"""A job's output, shown on the operator's terminal without letting it drive that terminal.

A job is untrusted text: `ESC ] 52` would set the clipboard, `ESC ] 0` the window title,
`ESC [ 2J` clear the screen.  SGR sequences (`ESC [ … m`, colours and bold) pass, as in the
dashboard; every other control character is shown as its Python escape (`\\x1b]52;…`), visible and
inert.  Newlines, tabs and carriage returns (progress bars) pass too.  Output that does not go to
a terminal is left as it is, and `--raw` passes it through to a terminal as well.
"""

from __future__ import annotations

import codecs
import re
from typing import BinaryIO, TextIO

from .render import escape_controls

#: what passes as it is (captured, so that re.split keeps it): SGR, tab, newline, carriage return
_KEPT = re.compile(r"(\x1b\[[0-9;:]*m|[\t\n\r])")
#: the start of an SGR sequence cut off at the end of a chunk: held back until the next one
_SGR_PREFIX = re.compile(r"\x1b(\[[0-9;:]{0,32})?\Z")


def inert(text: str) -> str:
    """Text that a terminal only displays: SGR colours and line breaks kept, every other
    control character escaped."""
    return "".join(part if i % 2 else escape_controls(part) for i, part in enumerate(_KEPT.split(text)))


class InertStream:
    """`inert` for bytes that arrive in chunks (`logs --follow`): a UTF-8 character or an SGR
    sequence split between two chunks is held back until it is whole."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("backslashreplace")
        self._pending = ""

    def feed(self, data: bytes) -> str:
        text = self._pending + self._decoder.decode(data)
        cut = _SGR_PREFIX.search(text)
        self._pending = cut.group() if cut else ""
        return inert(text[: cut.start()] if cut else text)

    def end(self) -> str:
        text, self._pending = self._pending + self._decoder.decode(b"", final=True), ""
        return inert(text)


class Output:
    """One of our standard streams, writing a job's bytes inert when it is a terminal (unless
    `raw`), else exactly as the job wrote them."""

    def __init__(self, stream: TextIO, raw: bool = False) -> None:
        self.stream = stream
        self.binary: BinaryIO = stream.buffer
        self.cleaner = None if raw or not _is_terminal(stream) else InertStream()

    def write(self, data: bytes) -> None:
        if self.cleaner is not None:
            data = self.cleaner.feed(data).encode("utf-8", "replace")
        self._put(data)

    def text(self, text: str) -> str:
        """A whole piece of job text (an error line, a log read at once), ready to print."""
        return text if self.cleaner is None else inert(text)

    def close(self) -> None:
        """Write what was held back (a cut-off sequence at the very end of the output)."""
        if self.cleaner is not None:
            self._put(self.cleaner.end().encode("utf-8", "replace"))

    def _put(self, data: bytes) -> None:
        self.stream.flush()  # what was printed as text before comes first
        self.binary.write(data)
        self.binary.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
