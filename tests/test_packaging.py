"""The wheel a user installs holds every module under queuectl, and nothing at the top level."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_every_module_under_queuectl(tmp_path, db_path):
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
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("queuectl-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {f"queuectl/{p.relative_to(ROOT / 'queuectl')}" for p in (ROOT / "queuectl").rglob("*.py")}
    sources |= {f"queuectl/tui/{p.relative_to(ROOT / 'tui')}" for p in (ROOT / "tui").rglob("*.py")}
    sources |= {f"queuectl/styles/{p.name}" for p in (ROOT / "styles").glob("*.tcss")}
    assert sources - names == set()
    assert not [n for n in names if n.split("/")[0] in ("tui", "styles", "tests", "bench")]
