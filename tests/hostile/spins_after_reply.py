# Class 7, process control: a thread, started at import, that spins on a CPU (60 s at most) after every reply,
# and a non-daemon one that keeps the interpreter from exiting when told to. Contained: the grading is not slowed
# into a wrong verdict (full marks) and no process is left after it.
import threading
import time


def spin() -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pass


threading.Thread(target=spin, daemon=True).start()
threading.Thread(target=time.sleep, args=(60,)).start()


def scaled_sum(a, b, alpha):
    return a + alpha * b
