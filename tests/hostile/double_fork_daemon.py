# Class 7, process control: a daemon (double fork and setsid) that waits for its worker to be gone, then writes
# a file in /tmp to show it outlived the grading, and lives on for 60 s. Contained: it cannot fork, or it is
# killed with the worker: full marks, no process left, nothing new in /tmp.
import os
import time

started = False


def daemon(worker: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and os.path.exists(f"/proc/{worker}"):
        time.sleep(0.1)
    if time.monotonic() < deadline:
        with open(f"/tmp/hostile-daemon-outlived-{worker}", "w") as handle:
            handle.write("outlived the grading\n")
        time.sleep(max(0.0, deadline - time.monotonic()))


def scaled_sum(a, b, alpha):
    global started
    if not started:
        started = True
        worker = os.getpid()
        try:
            if os.fork() == 0:
                try:
                    os.setsid()
                    if os.fork() == 0:
                        daemon(worker)
                finally:
                    os._exit(0)
        except OSError:
            pass
    return a + alpha * b
