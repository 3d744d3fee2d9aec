"""GNU parallel's replacement strings, as `add --each` fills them from one input line.

Every placeholder of a text is replaced in one pass of one regular expression: a value put in
is never read again, so a line such as `x{}$(touch F).txt` cannot smuggle in a placeholder whose
replacement ends its quoting.  The rules are parallel's own (its `%Global::replace`, 20221122),
checked against /usr/bin/parallel by tests/test_each_parallel.py.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from .errors import InputError

#: {} {.} {/} {//} {/.}, each also with the column number parallel allows ({1}, {-1/}, {1 .}),
#: then {#} {%}, then a perl expression {= … =} (refused)
PATTERN = re.compile(
    r"\{(?:(?P<column>-?\d+)\s*)?(?P<path>//|/\.|/|\.|)\}|\{(?P<job>[#%])\}|\{(?:-?\d+\s*)?=.*?=\}", re.DOTALL
)
_EXTENSION = re.compile(r"\.[^/.]*\Z")


def _dirname(path: str) -> str:
    """Perl's File::Basename::dirname, which parallel's {//} is: 'a/' -> '.', 'a/b/' -> 'a',
    '/' -> '/' (Python's os.path.dirname gives 'a', 'a/b' and '/')."""

    def split(text: str) -> tuple[str, str]:
        head, sep, base = text.rpartition("/")
        return (head + sep) or "./", base

    def strip(text: str) -> str:  # s{(.)/*\z}{$1}s: trailing slashes, all but a leading one
        return text[0] + text[1:].rstrip("/")

    head, base = split(path)
    head = strip(head)
    if not base:
        head = strip(split(head)[0])
    return head


#: what each placeholder makes of the line (parallel: {.} is s:\.[^/.]*$::, {/} is s:.*/::)
_PATH = {
    "": lambda line: line,
    ".": lambda line: _EXTENSION.sub("", line, count=1),
    "/": lambda line: line.rpartition("/")[2],
    "//": _dirname,
    "/.": lambda line: _EXTENSION.sub("", line.rpartition("/")[2], count=1),
}


def check(text: str) -> bool:
    """Whether text holds a placeholder; one that cannot be filled at enqueue is an error."""
    found = False
    for match in PATTERN.finditer(text):
        found = True
        if match.group("job") == "%":
            raise InputError("{%} (parallel's job slot) is not known when a job is added; {#} numbers the lines")
        if match.group("job") is None and match.group("path") is None:
            raise InputError(f"perl expressions such as {_short(match.group())} are not supported")
        column = match.group("column")
        if column is not None and int(column) not in (1, -1):
            raise InputError(f"{match.group()}: the input has one column (use {{}} or {{1}})")
    return found


def expand(text: str, line: str, number: int, quote: Callable[[str], str] = str) -> str:
    """text with every placeholder replaced by its value from line (the number-th input line),
    each value passed through quote; one pass, so no value is ever scanned again."""

    def value(match: re.Match) -> str:
        if match.group("job") == "#":
            return str(number)
        return quote(_PATH[match.group("path")](line))

    return PATTERN.sub(value, text)


def command_filler(command: tuple[str, ...]) -> Callable[[str, int], str]:
    """(line, number) -> the job's shell command, every value shell-quoted wherever it lands:
    inside the one shell text given as one argument, or in one of several arguments (each then
    quoted whole).  As in parallel, the line is added as the last argument when no placeholder
    is given."""
    holding = [check(arg) for arg in command]
    if not any(holding):
        head = command[0] if len(command) == 1 else shlex.join(command)
        return lambda line, number: f"{head} {shlex.quote(line)}"
    if len(command) == 1:
        text = command[0]
        _refuse_quoted(text)
        return lambda line, number: expand(text, line, number, shlex.quote)
    parts = [(arg, None) if has else (arg, shlex.quote(arg)) for arg, has in zip(command, holding)]
    return lambda line, number: " ".join(
        quoted if quoted is not None else shlex.quote(expand(arg, line, number)) for arg, quoted in parts
    )


def _refuse_quoted(text: str) -> None:
    """A value is shell-quoted where it lands, so a placeholder that the shell text puts inside
    quotes ('{}', "{}") or after a backslash would have its quotes closed by the value's, and
    the rest of a file name would run as code (parallel's manual: never quote {} yourself).
    Refused, except {#}, which is digits.  The shell's quoting as far as it matters here:
    '…', "…", backslashes, comments, and the fresh context of $(…) and `…`, even inside "…"."""
    frames: list[str] = []  # the open quotes and substitutions, innermost last
    i = 0
    while i < len(text):
        top = frames[-1] if frames else ""
        match = PATTERN.match(text, i)
        if match:
            if top in ("'", '"') and match.group("job") != "#":
                raise InputError(
                    f"{match.group()} is inside quotes in the command; remove them: queuectl quotes "
                    "each value itself, and a value inside quotes could run as code"
                )
            i = match.end()
            continue
        char = text[i]
        if top == "'":
            if char == "'":
                frames.pop()
        elif char == "\\":
            after = PATTERN.match(text, i + 1)
            if after and after.group("job") != "#":
                raise InputError(
                    f"{after.group()} follows a backslash in the command; remove it: queuectl quotes each value itself"
                )
            i += 1
        elif text.startswith("$(", i):
            frames.append("$(")
            i += 1
        elif char == "`" and top == "`":
            frames.pop()
        elif char == "`":
            frames.append("`")
        elif top == '"':
            if char == '"':
                frames.pop()
        elif char == "#" and (i == 0 or text[i - 1] in " \t\n;&|()"):
            end = text.find("\n", i)  # a comment, to the end of its line
            i = len(text) if end < 0 else end
            continue
        elif char in "'\"(":
            frames.append(char)
        elif char == ")" and top in ("(", "$("):
            frames.pop()
        i += 1
    # a text left unbalanced is the shell's to refuse when the job runs


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
