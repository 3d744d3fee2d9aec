"""GNU parallel as the oracle of `add --each` (issue 22): generated file names (quotes, $(…),
backticks, a leading -, tabs, carriage returns, unicode, dots, slashes, braces, placeholders
inside the name, dot-files) and templates using every placeholder go through /usr/bin/parallel
and through `queuectl add --each` plus a real `worker start --burst`; every job must receive
the argv parallel gives its job, and nothing in a name may run.

The differences the README documents are left out of the inputs: empty lines (parallel runs a
job for one, queuectl skips it), lines that are not UTF-8 (refused) and {%} (refused)."""

import shlex
import shutil
import subprocess
from collections import Counter
from itertools import count

import pytest
from conftest import drain, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _gnu_parallel() -> str | None:
    path = shutil.which("parallel")
    if path is None:
        return None
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    return path if version.startswith("GNU parallel") else None


PARALLEL = _gnu_parallel()
pytestmark = pytest.mark.skipif(
    PARALLEL is None,
    reason="GNU parallel is not installed (Debian's `parallel`, installed by .ci/run): it is these tests' oracle",
)

#: appends its arguments after the first, NUL-separated and counted, to the file the first names
RECORDER = 'out=$1; shift; printf "%s\\0" "$#" "$@" >> "$out"\n'
PLACEHOLDERS = ["{}", "{.}", "{/}", "{//}", "{/.}", "{#}", "{1}", "{1.}", "{-1/}", "{1//}"]
#: pieces of names: what a shell, a quoting routine or a placeholder scanner could trip on
PIECES = [
    "$(touch PWNED)",
    "`touch PWNED`",
    "'",
    '"',
    "\\",
    " ",
    "\t",
    "\r",
    "-",
    "--",
    ".",
    "..",
    "/",
    "//",
    "{",
    "}",
    "{}",
    "{.}",
    "{/}",
    "{//}",
    "{#}",
    "{%}",
    "{1}",
    "*",
    "?",
    "~",
    "#",
    ";",
    "&",
    "|",
    "<",
    ">",
    "!",
    "$HOME",
    "${x}",
    ".bashrc",
    "..double-dot",
    "dir.d/file",
    "x.tar.gz",
    "ü",
    "名前",
    "é.txt",
]
names = st.lists(
    st.one_of(
        st.sampled_from(PIECES),
        st.text(st.characters(codec="utf-8", exclude_characters="\n\x00"), min_size=1, max_size=3),
    ),
    min_size=1,
    max_size=5,
).map("".join)
#: template words: placeholders, shell-safe literal text, and the two together ({.}.jpg)
literals = st.sampled_from(["x", "-v", "a.b", "k=v", "p:", "_", "{foo}", "%"])
words = st.one_of(
    st.sampled_from(PLACEHOLDERS), literals, st.tuples(literals, st.sampled_from(PLACEHOLDERS), literals).map("".join)
)
templates = st.tuples(st.lists(words, max_size=5), st.sampled_from(["one shell text", "arguments"]))


def recorded(path) -> Counter:
    """The argv of every job that wrote to path, as a multiset."""
    if not path.exists():
        return Counter()
    fields = path.read_bytes().split(b"\0")[:-1]
    runs, i = [], 0
    while i < len(fields):
        n = int(fields[i])
        runs.append(tuple(f.decode() for f in fields[i + 1 : i + 1 + n]))
        i += 1 + n
    return Counter(runs)


def test_each_gives_every_job_the_argv_gnu_parallel_gives(db_path, tmp_path):
    script = tmp_path / "record.sh"
    script.write_text(RECORDER)
    runs = count()

    @settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(lines=st.lists(names, min_size=1, max_size=12), chosen=st.lists(templates, min_size=1, max_size=3))
    def check(lines, chosen):
        text = "".join(line + "\n" for line in lines)
        outs = []
        for template, form in chosen:
            run = next(runs)
            out = {tool: tmp_path / f"{run}.{tool}" for tool in ("parallel", "queuectl")}
            work = {tool: tmp_path / f"{run}.{tool}.cwd" for tool in out}
            for folder in work.values():
                folder.mkdir()
            argv = {tool: ["sh", str(script), str(path), *template] for tool, path in out.items()}
            if form == "one shell text":  # the words as typed: a placeholder is never quoted by hand
                argv = {
                    tool: [shlex.join(args[:3]) + "".join(" " + word for word in template)]
                    for tool, args in argv.items()
                }
            result = run_cli("add", "--each", "--cwd", str(work["queuectl"]), "--", *argv["queuectl"], input=text)
            assert result.exit_code == 0, result.stderr
            oracle = subprocess.run(
                [PARALLEL, "--will-cite", "-j1", "--", *argv["parallel"]],
                input=text.encode(),
                cwd=work["parallel"],
                capture_output=True,
                env={"PATH": "/usr/bin:/bin", "PARALLEL_SHELL": "/bin/sh"},
                timeout=60,
            )
            assert oracle.returncode == 0, oracle.stderr
            outs.append((out, work))
        drain()
        for out, work in outs:
            assert list(work["queuectl"].iterdir()) == []  # nothing in a name ran (PWNED would be here)
            assert recorded(out["queuectl"]) == recorded(out["parallel"])
            assert sum(recorded(out["queuectl"]).values()) == len(lines)

    check()
