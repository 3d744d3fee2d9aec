"""The machine's spawn limit: run `/bin/sh -c true` N times in a loop (one process of the raw figure).

Usage: python spawn_loop.py N START_AT MODE, MODE being `raw` (the limit the targets are judged
against) or `engine` (the way queuectl's runner starts a job: pipes, new session, preexec hook).
Waits until START_AT (epoch seconds) so that several loops start together; prints "start end".
"""

import ctypes
import subprocess
import sys
import time


def main() -> None:
    n, start_at, mode = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    libc = ctypes.CDLL(None, use_errno=True)

    def hook() -> None:
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL: what the runner does

    while time.time() < start_at:
        time.sleep(0.001)
    start = time.time()
    if mode == "raw":
        for _ in range(n):
            subprocess.run(["/bin/sh", "-c", "true"])
    elif mode == "engine":
        for _ in range(n):
            p = subprocess.Popen(
                ["/bin/sh", "-c", "true"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=hook,
            )
            p.communicate()
    elif mode == "engine-no-preexec":
        for _ in range(n):
            p = subprocess.Popen(
                ["/bin/sh", "-c", "true"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            p.communicate()
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(start, time.time())


if __name__ == "__main__":
    main()
