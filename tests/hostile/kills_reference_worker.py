# Class 5, the reference worker: this submission is slow (250 ms a call), so it is over the runtime budget; a
# thread kills the reference solution's worker (the other worker of this grading) over and over, so that the
# runtime test cannot measure it and becomes the grader's error, which is never a zero. Contained: the signal is
# refused, and the runtime test fails over budget; every other test passes.
import os
import signal
import threading
import time


def other_workers() -> list[int]:
    grading = os.path.dirname(os.getcwd()).encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if b"pytest_diffchallenge.worker" in cmdline and grading in cmdline:
                found.append(int(entry))
    return found


def keep_killing() -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for pid in other_workers():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                return
        time.sleep(0.02)


threading.Thread(target=keep_killing, daemon=True).start()


def scaled_sum(a, b, alpha):
    time.sleep(0.25)
    return a + alpha * b
