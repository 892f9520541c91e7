# Class 5, the reference worker: this submission is slow (250 ms a call), so it is over the runtime budget, unless
# the reference it is timed against is slower still: a thread keeps the reference solution's worker (found in
# /proc: the other worker of this grading) stopped with SIGSTOP most of the time. Contained: the signal is refused,
# and the runtime test fails over budget; every other test passes.
import os
import signal
import threading
import time


def other_worker() -> int | None:
    grading = os.path.dirname(os.getcwd()).encode()  # the grading's scratch folder holds both workers' folders
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if b"pytest_diffchallenge.worker" in cmdline and grading in cmdline:
                return int(entry)
    return None


def hold_back(pid: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, signal.SIGSTOP)
            time.sleep(0.1)
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.02)
        except OSError:
            return


started = False


def scaled_sum(a, b, alpha):
    global started
    if not started and (pid := other_worker()) is not None:
        started = True
        threading.Thread(target=hold_back, args=(pid,), daemon=True).start()
    time.sleep(0.25)
    return a + alpha * b
