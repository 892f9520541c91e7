# Class 7, process control: a process that keeps re-forking (each generation forks the next and exits at once,
# in a new session), so that its pid changes faster than a reaper can aim at it; it lives up to 60 s.
# Contained: it cannot fork, or the grading's end kills it all the same: full marks, and nothing is left.
import os
import time

started = False


def chain() -> None:
    os.setsid()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.01)
        try:
            if os.fork() != 0:
                os._exit(0)
        except OSError:
            pass


def scaled_sum(a, b, alpha):
    global started
    if not started:
        started = True
        try:
            if os.fork() == 0:
                try:
                    chain()
                finally:
                    os._exit(0)
        except OSError:
            pass
    return a + alpha * b
