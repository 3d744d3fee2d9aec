"""Start-up cost: heavy modules load only in the commands that need them."""

import subprocess
import sys


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_cli_module_loads_only_click():
    loaded = _loaded_after("import queuectl.cli")
    assert not {"textual", "rich", "peewee", "platformdirs"} & loaded


def test_status_loads_no_ui_and_no_database_drivers(db_path):
    code = "from queuectl.cli import cli\ntry:\n    cli(['status'])\nexcept SystemExit:\n    pass"
    loaded = _loaded_after(code)
    assert "peewee" in loaded  # it did query the store
    assert not {"textual", "rich", "psycopg2", "psycopg", "pymysql"} & loaded


def test_a_command_loads_only_its_own_module(db_path):
    """The lazy group: `status` imports its command module and no other (nor the dashboard's),
    with the helpers every command shares."""
    code = "from queuectl.cli import cli\ntry:\n    cli(['status'])\nexcept SystemExit:\n    pass"
    commands = {name for name in _loaded_after(code) if name.startswith(("queuectl.commands.", "queuectl.tui"))}
    assert commands == {"queuectl.commands.view", "queuectl.commands.common"}
