"""How to add an optional part (an extra: web, postgres) to this installation of queuectl.

Asking pip for the name queuectl would fetch an unrelated project of that name from the package
index: a hint names this installation's own source (the checkout it was installed from, as pip
recorded it) and the Python it runs on, or else the checkout in general.
"""

from __future__ import annotations

import json
import shlex
import sys
from importlib import metadata
from urllib.parse import unquote, urlsplit


def install_extra(extra: str) -> str:
    """The command that installs queuectl's `extra` here, e.g. `pip install '.[web]'`."""
    # (a checkout's root may hold a queuectl.egg-info of its own, found first and without it)
    recorded = [d.read_text("direct_url.json") for d in metadata.distributions(name="queuectl")]
    try:
        origin = json.loads(next(filter(None, recorded), "null"))
    except ValueError:
        origin = None
    if isinstance(origin, dict) and str(origin.get("url", "")).startswith("file://"):
        source = unquote(urlsplit(origin["url"]).path)
        editable = "-e " if origin.get("dir_info", {}).get("editable") else ""
        return f"{shlex.quote(sys.executable)} -m pip install {editable}{shlex.quote(f'{source}[{extra}]')}"
    return f"pip install '.[{extra}]' in the queuectl checkout"
