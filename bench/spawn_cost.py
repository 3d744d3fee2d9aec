"""The spawning process's CPU per job for three ways of starting a job like the runner does
(`/bin/sh -c true`, stdin from /dev/null, stdout and stderr into pipes, a new session, a marker
descriptor passed on, a job environment of the parent's plus two variables), interleaved:

- popen, str env:   subprocess.Popen, env = dict(os.environ, ...) per job (the worker before 3335d59)
- popen, bytes env: subprocess.Popen, env built from a dict(os.environb) made once (the worker now)
- posix_spawn:      os.posix_spawn with setsid and file actions (not used: see bench/README.md)

and which signals the job starts with ignored under each (SigIgn of /proc/PID/status).

    python bench/spawn_cost.py [N_PER_ROUND] [ROUNDS]
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

BASE = dict(os.environb)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _popen(env, command: str = "true") -> bytes:
    marker_r, marker_w = os.pipe()
    p = subprocess.Popen(
        ["/bin/sh", "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
        pass_fds=(marker_w,),
    )
    os.close(marker_w)
    out = p.stdout.read()
    p.wait()
    p.stdout.close()
    p.stderr.close()
    os.close(marker_r)
    return out


def popen_str_env(command: str = "true") -> bytes:
    return _popen(dict(os.environ, QUEUECTL_JOB_ID="job", QUEUECTL_ATTEMPT="1"), command)


def popen_bytes_env(command: str = "true") -> bytes:
    return _popen({**BASE, b"QUEUECTL_JOB_ID": b"job", b"QUEUECTL_ATTEMPT": b"1"}, command)


def posix_spawn(command: str = "true") -> bytes:
    env = {**BASE, b"QUEUECTL_JOB_ID": b"job", b"QUEUECTL_ATTEMPT": b"1"}
    marker_r, marker_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    os.set_inheritable(marker_w, True)
    pid = os.posix_spawn(
        "/bin/sh",
        ["/bin/sh", "-c", command],
        env,
        setsid=True,
        setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
        ],
    )
    for fd in (marker_w, out_w, err_w):
        os.close(fd)
    chunks = []
    while chunk := os.read(out_r, 65536):
        chunks.append(chunk)
    os.waitpid(pid, 0)
    for fd in (marker_r, out_r, err_r):
        os.close(fd)
    return b"".join(chunks)


WAYS = {"popen, str env": popen_str_env, "popen, bytes env": popen_bytes_env, "posix_spawn": posix_spawn}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    ms: dict = {way: [] for way in WAYS}
    for _ in range(rounds):
        for way, spawn in WAYS.items():
            t = _cpu()
            for _ in range(n):
                spawn()
            ms[way].append(1000 * (_cpu() - t) / n)
    print("| way | spawner CPU per job, ms (each round) | the job's SigIgn |")
    print("|---|---|---|")
    for way, spawn in WAYS.items():
        ignored = spawn("grep SigIgn /proc/self/status").decode().split()[-1]
        print(f"| {way} | {', '.join(f'{x:.3f}' for x in ms[way])} | {ignored} |")


if __name__ == "__main__":
    main()
