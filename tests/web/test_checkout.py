"""From the checkout's root, where the README's Quick start leaves a user, a non-editable install
serves the dashboard and runs workers: the source folder `queuectl/` there must not shadow the
installed package (it has no `queuectl.tui`, which the installation maps from `tui/`)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig

import pytest

from .conftest import ROOT, Dashboard, app_output


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> str:
    """queuectl from a wheel in a venv of its own (its dependencies seen through a .pth file);
    returns its `queuectl` command."""
    base = tmp_path_factory.mktemp("installed")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(base / "wheel"),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (base / "venv" / site.removeprefix(str(venv) + "/") / "deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            *map(str, (base / "wheel").glob("queuectl-*.whl")),
        ],
        check=True,
        capture_output=True,
    )
    where = subprocess.run(
        [python, "-P", "-c", "import queuectl.tui; print(queuectl.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(site)  # the wheel's copy, not the checkout's
    return str(venv / "bin" / "queuectl")


async def test_workers_and_dashboard_from_the_checkout_root(installed, tmp_path):
    db = str(tmp_path / "q.db")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([installed, "--db", db, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)

    for n in range(4):
        assert run("enqueue", f'{{"id": "from-root-{n}", "command": "echo {n}"}}').returncode == 0
    result = run("worker", "start", "--count", "2", "--burst")
    assert result.returncode == 0 and "Error" not in result.stderr, result.stderr
    assert '"completed": 4' in run("status", "--json").stdout

    server = Dashboard(env={"QUEUECTL_DB": db}, cwd=ROOT, command=installed)
    try:
        drawn = await app_output(f"{server.base}/ws?token={server.token}", until=b"from-root-3", Origin=server.base)
        assert b"from-root-3" in drawn and b"ModuleNotFoundError" not in drawn
    finally:
        server.stop()
    assert b"Traceback" not in server.stderr
