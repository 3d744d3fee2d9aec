"""Install hints install this project: never `pip install 'queuectl[...]'`, which the package
index answers with an unrelated project of the same name."""

from __future__ import annotations

import re
from pathlib import Path

from queuectl.hints import install_extra

ROOT = Path(__file__).resolve().parent.parent
INDEX_NAME = re.compile(r"pip install (-e )?['\"]?queuectl\b")


def test_no_message_or_document_installs_queuectl_from_the_index():
    files = [*ROOT.glob("queuectl/**/*.py"), *ROOT.glob("tui/**/*.py"), *ROOT.glob("bench/*"), *ROOT.glob("*.md")]
    offenders = [
        f"{p.relative_to(ROOT)}: {m.group()}"
        for p in files
        if p.is_file()
        for m in INDEX_NAME.finditer(p.read_text(errors="replace"))
    ]
    assert offenders == []


def test_the_hint_names_this_installations_source_and_python():
    """(The tests run on an editable install of the checkout.)"""
    import sys

    hint = install_extra("web")
    assert hint.startswith(f"{sys.executable} -m pip install -e ") and f"{ROOT}[web]" in hint
