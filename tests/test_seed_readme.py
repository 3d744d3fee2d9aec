"""The seed README (../shared/seed/QueueCTL-README.md), run as its reader would (issue 22).

Every `queuectl` example of the seed runs here, PowerShell translated to sh, through the real
`queuectl` of this install, against a store in the default place (HOME is a temporary folder,
as a newcomer's is empty), and each is asserted to do what the seed says it does.  The output
differs where our README's "Differences from the seed" says so, and only there.  The seed's
`python …` jobs are small scripts written first, so that they succeed as the seed expects.

`worker start` runs until Ctrl+C, as in the seed; where the seed then waits for the jobs to be
done, `--burst` (exit once the queue is empty) stands for "watch it finish, then press Ctrl+C",
and one test presses Ctrl+C (SIGINT) for real.  The seed's loop of 100 enqueues runs with 10.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_for

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "QueueCTL-README.md"
SCRIPTS = (
    "script.py",
    "urgent.py",
    "process.py",
    "extract_data.py",
    "transform_data.py",
    "load_data.py",
    "backup.py",
    "build.py",
    "test.py",
    "deploy.py",
)

pytestmark = pytest.mark.skipif(not SEED.exists(), reason=f"the seed README is not beside the checkout ({SEED})")


class Reader:
    """A shell in a folder of its own, with this install's `queuectl` first on PATH."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        home = folder / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QUEUECTL_", "XDG_"))}
        bin_dir = str(Path(sys.executable).parent)
        self.env = dict(env, HOME=str(home), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", COLUMNS="120")
        self.store = home / ".local" / "share" / "queuectl" / "queuectl.db"
        for name in SCRIPTS:  # `python NAME [args]` prints what it was asked to do, and succeeds
            (folder / name).write_text("import sys\nprint(' '.join(sys.argv))\n")

    def sh(self, line: str, ok: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["sh", "-c", line], cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
        if ok:
            assert result.returncode == 0, (line, result.stdout, result.stderr)
        return result

    def jobs(self) -> dict[str, dict]:
        return {j["id"]: j for j in json.loads(self.sh("queuectl list --json --limit 1000").stdout)}

    def drain(self, line: str = "queuectl worker start") -> subprocess.CompletedProcess:
        return self.sh(f"{line} --burst")


@pytest.fixture
def reader(db_path, tmp_path) -> Reader:
    """(db_path: the seed is about SQLite, so this runs on SQLite only; the store is the
    default one, not db_path.)"""
    work = tmp_path / "work"
    work.mkdir()
    return Reader(work)


def test_installation_help_and_init(reader):
    """Step 4 (`queuectl --help`: every command the seed lists) and step 5 (`queuectl init`)."""
    shown = reader.sh("queuectl --help").stdout
    listed = re.search(r"\{([a-z,]+)\}", SEED.read_text()).group(1).split(",")
    assert listed == ["init", "enqueue", "list", "status", "logs", "worker", "metrics", "dlq", "config", "dashboard"]
    assert [name for name in listed if not re.search(rf"^  {name} ", shown, re.M)] == []
    init = reader.sh("queuectl init")
    # different (README): the store is in the user data folder, not data/queuectl.db
    assert init.stdout == f"Store: {reader.store}\nLogs:  {reader.store.parent / 'logs'}\n"


def test_quick_start(reader):
    """Quick start 1-4, in order, on a store made by the first command."""
    for line, job_id in (
        ("""queuectl enqueue '{"id":"job1","command":"echo Hello World"}'""", "job1"),
        ("""queuectl enqueue '{"id":"urgent","command":"echo High Priority","priority":10}'""", "urgent"),
        (
            """queuectl enqueue '{"id":"complex","command":"python script.py","timeout":600,"max_retries":5,"priority":5}'""",
            "complex",
        ),
    ):
        assert reader.sh(line).stdout == f"{job_id}\n"
    assert reader.store.exists()
    listed = reader.sh("queuectl list").stdout
    assert all(job_id in listed for job_id in ("job1", "urgent", "complex"))
    for column in ("ID", "State", "Priority", "Attempts", "Created"):
        assert column in listed
    assert len(re.findall(r"^\S+\s+pending\s", reader.sh("queuectl list --state pending").stdout, re.M)) == 3
    assert "none" in reader.sh("queuectl list --state completed").stdout
    reader.drain("queuectl worker start")
    reader.sh("""queuectl enqueue '{"id":"job2","command":"echo again"}'""")
    reader.drain("queuectl worker start --count 3")
    assert {j["state"] for j in reader.jobs().values()} == {"completed"}
    status = reader.sh("queuectl status").stdout
    for label, n in (
        ("Pending", 0),
        ("Processing", 0),
        ("Completed", 4),
        ("Failed", 0),
        ("Dead (DLQ)", 0),
        ("Workers", 0),
    ):
        assert re.search(rf"^{re.escape(label)}:\s+{n}$", status, re.M), (label, status)
    metrics = reader.sh("queuectl metrics").stdout
    for row in ("Total jobs", "Completed", "Failed", "Dead", "Avg runtime", "Active workers"):
        assert re.search(rf"^{row}\s", metrics, re.M | re.I), (row, metrics)
    # the seed's logs output, whole; ours first names the attempt and adds what it used (README)
    logs = reader.sh("queuectl logs job1").stdout
    usage = r"wall \d+\.\d{3}s; cpu user \d+\.\d{3}s, system \d+\.\d{3}s(; peak memory \d+\.\d [KMG]iB)?"
    seed = "=== EXIT CODE ===\n0\n\n=== STDOUT ===\nHello World\n\n=== STDERR ===\n\n"
    assert re.fullmatch(
        rf"=== ATTEMPT 1 \(ok\) ===\n=== EXIT CODE ===\n0\n\n=== USAGE ===\n{usage}\n\n=== STDOUT ===\nHello World\n\n=== STDERR ===\n\n",
        logs,
    ), logs
    assert logs.replace(re.search(r"=== USAGE ===\n.*\n\n", logs).group(0), "").endswith(seed)


def test_enqueue_and_list_reference(reader):
    for line in (
        """queuectl enqueue '{"id":"task1","command":"echo Hello"}'""",
        """queuectl enqueue '{"id":"urgent","command":"python urgent.py","priority":10}'""",
        """queuectl enqueue '{"id":"complete","command":"python process.py","priority":5,"timeout":600,"max_retries":5,"run_at":"2025-11-08T10:00:00"}'""",
    ):
        reader.sh(line)
    jobs = reader.jobs()
    assert (jobs["complete"]["priority"], jobs["complete"]["timeout"], jobs["complete"]["max_retries"]) == (5, 600, 5)
    assert jobs["urgent"]["priority"] == 10 and jobs["task1"]["priority"] == 0 and jobs["task1"]["timeout"] == 300
    assert jobs["task1"]["max_retries"] == 3
    listed = reader.sh("queuectl list").stdout
    # different (README): Attempts reads runs / (1 + max_retries), so a new default job shows 0/4
    assert re.search(r"^task1\s+pending\s+0\s+0/4\s", listed, re.M), listed
    assert len(re.findall(r"^\S+\s+pending\s", reader.sh("queuectl list --state pending").stdout, re.M)) == 3
    reader.drain()
    completed = reader.sh("queuectl list --state completed --limit 20").stdout
    assert all(job_id in completed for job_id in ("task1", "urgent", "complete"))  # run_at in the past: at once
    assert reader.jobs()["complete"]["attempts"] == 1


def test_dlq_reference(reader):
    """dlq list shows the dead jobs with their error; dlq retry sends one back."""
    reader.sh("""queuectl enqueue '{"id":"failing-job","command":"exit 1","max_retries":0}'""")
    reader.sh("""queuectl enqueue '{"id":"timeout-job","command":"sleep 5","timeout":1,"max_retries":0}'""")
    reader.drain()
    dead = reader.sh("queuectl dlq list").stdout
    assert re.search(r"^failing-job\s.*exited with code 1", dead, re.M) and "timeout-job" in dead, dead
    for column in ("ID", "Error", "Updated"):
        assert column in dead
    retried = reader.sh("queuectl dlq retry failing-job").stdout
    assert retried == "retrying job 'failing-job' from the DLQ\n"  # the seed: "Retrying job 'failing-job' from DLQ"
    assert reader.jobs()["failing-job"]["state"] == "pending"


def test_config_reference(reader):
    shown = reader.sh("queuectl config show").stdout
    for key, value in (
        ("backoff_base", "2"),
        ("default_priority", "0"),
        ("default_timeout", "300"),
        ("max_retries", "3"),
    ):
        assert re.search(rf"^{key}\s+= {value}\s", shown, re.M), (key, shown)
    reader.sh("queuectl config set max_retries 5")
    reader.sh("queuectl config set backoff_base 3")
    reader.sh("queuectl config set default_timeout 600")
    assert [
        reader.sh(f"queuectl config get {key}").stdout for key in ("max_retries", "backoff_base", "default_timeout")
    ] == ["5\n", "3\n", "600\n"]
    job_id = reader.sh("""queuectl enqueue '{"command":"true"}'""").stdout.strip()
    assert (reader.jobs()[job_id]["max_retries"], reader.jobs()[job_id]["timeout"]) == (5, 600)


def test_dashboard_start_prints_where_to_open_it(reader):
    """`queuectl dashboard start`: port 5000, as the seed says; ours binds 127.0.0.1 and the
    URL carries a secret token (README).  Another program on port 5000 is one line, exit 1."""
    pytest.importorskip("textual_serve")
    server = subprocess.Popen(
        ["sh", "-c", "exec queuectl dashboard start"],
        cwd=reader.folder,
        env=reader.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines = [server.stdout.readline() for _ in range(2)]
        if server.poll() is not None or "Error:" in lines[0]:
            assert lines[0].startswith("Error: ") and "5000" in lines[0], lines
            pytest.skip("port 5000 is taken on this machine")
        assert lines[1].strip().startswith("http://127.0.0.1:5000/?token="), lines
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGINT)
        server.wait(30)


def test_persistence_scenario(reader):
    """Day 1: three jobs and a worker, stopped with Ctrl+C; day 2: a worker again.  Nothing lost."""
    for i in (1, 2, 3):
        reader.sh(f"""queuectl enqueue '{{"id":"job{i}","command":"echo Task {i}"}}'""")
    worker = subprocess.Popen(
        ["sh", "-c", "exec queuectl worker start"],
        cwd=reader.folder,
        env=reader.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(lambda: reader.jobs()["job1"]["state"] == "completed", timeout=60)
        os.killpg(worker.pid, signal.SIGINT)  # Ctrl+C: finish what runs, then stop
        out, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    assert worker.returncode in (0, 130) and "Traceback" not in err, (worker.returncode, err)
    reader.sh("""queuectl enqueue '{"id":"job4","command":"echo Task 4"}'""")
    reader.drain()  # day 2
    assert {job_id: j["state"] for job_id, j in reader.jobs().items()} == dict.fromkeys(
        ("job1", "job2", "job3", "job4"), "completed"
    )
    assert "job1" in reader.sh("queuectl list").stdout and "job3" in reader.sh("queuectl list --state completed").stdout
    assert "none" in reader.sh("queuectl list --state pending").stdout


def _started_order(reader: Reader) -> list[str]:
    jobs = reader.jobs()
    return sorted(
        jobs,
        key=lambda job_id: json.loads(reader.sh(f"queuectl show {job_id} --json").stdout)["attempts"][0]["started_at"],
    )


def test_use_cases(reader):
    """1 (the pipeline by priority, one worker), 2 (a batch; 10 of the seed's 100), 3 (a job
    scheduled at a time now past), 4 (build, test, deploy by priority)."""
    for line in (
        """queuectl enqueue '{"id":"extract","command":"python extract_data.py","priority":10}'""",
        """queuectl enqueue '{"id":"transform","command":"python transform_data.py","priority":5}'""",
        """queuectl enqueue '{"id":"load","command":"python load_data.py","priority":1}'""",
    ):
        reader.sh(line)
    reader.drain("queuectl worker start")
    assert _started_order(reader) == ["extract", "transform", "load"]

    reader.sh(
        """for i in $(seq 1 10); do queuectl enqueue "{\\"id\\":\\"file-$i\\",\\"command\\":\\"python process.py --file data/$i.csv\\"}"; done"""
    )
    reader.drain("queuectl worker start --count 10")
    batch = {job_id: j for job_id, j in reader.jobs().items() if job_id.startswith("file-")}
    assert len(batch) == 10 and {j["state"] for j in batch.values()} == {"completed"}
    assert "process.py --file data/7.csv" in reader.sh("queuectl logs file-7").stdout

    reader.sh(
        """time="2025-11-08T00:00:00"; queuectl enqueue "{\\"id\\":\\"backup\\",\\"command\\":\\"python backup.py\\",\\"run_at\\":\\"$time\\"}\""""
    )
    reader.drain("queuectl worker start")
    assert reader.jobs()["backup"]["state"] == "completed"

    for line in (
        """queuectl enqueue '{"id":"build","command":"python build.py","priority":10}'""",
        """queuectl enqueue '{"id":"test","command":"python test.py","priority":5}'""",
        """queuectl enqueue '{"id":"deploy","command":"python deploy.py","priority":1}'""",
    ):
        reader.sh(line)
    reader.drain("queuectl worker start")
    order = _started_order(reader)
    assert [job_id for job_id in order if job_id in ("build", "test", "deploy")] == ["build", "test", "deploy"]


def test_troubleshooting(reader):
    assert "none" in reader.sh("queuectl list").stdout  # no store yet: an empty list, and no store made
    assert not reader.store.exists()
    reader.sh("""queuectl enqueue '{"id":"j","command":"true"}'""")
    reader.drain("queuectl worker start")
    reader.drain("queuectl worker start --count 2")
    assert reader.jobs()["j"]["state"] == "completed"
