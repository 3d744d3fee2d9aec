"""How queuectl starts its own Python child processes (workers, their guard, the web
dashboard's app): always the installed package, and never a secret on the command line.

`python -m queuectl…` puts the current folder first on `sys.path`, so started from a checkout's
root the source folder `queuectl/` would shadow the installed package (and lacks `queuectl.tui`,
which the installation maps from `tui/`).  The store's location travels in the environment, which
only the same user can read (`/proc/PID/environ`), and not in argv, which every user can
(`ps`, `/proc/PID/cmdline`): a PostgreSQL URL may hold a password.
"""

from __future__ import annotations

import os
import sys

from ..paths import DB_ENV, Location

#: `-P` (Python 3.11+) leaves the current folder off sys.path
_HAS_SAFE_PATH = sys.version_info >= (3, 11)
#: the same for older Pythons: drop the '' that `-c` puts first, then run the module as -m would
_RUN_MODULE = (
    "import runpy, sys; del sys.path[0]; del sys.argv[0]; "
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)"
)


def python_module(module: str, *args: str) -> list[str]:
    """The argv that runs `python -m MODULE ARGS` from the installed package, wherever the
    current folder is."""
    if _HAS_SAFE_PATH:
        return [sys.executable, "-P", "-m", module, *args]
    return [sys.executable, "-c", _RUN_MODULE, module, *args]


def store_env(location: Location, **extra: str) -> dict[str, str]:
    """This process's environment, with the store the child is to open (and `extra`): a SQLite
    store by its absolute path, as a person names it (the jobs inherit it too)."""
    store = str(location.sqlite_path) if location.sqlite_path is not None else location.url
    return dict(os.environ, **{DB_ENV: store}, **extra)
