# Class 7, process control: a fork bomb, bounded so that it cannot take the machine down where nothing contains
# it (root ignores RLIMIT_NPROC): a binary tree of 255 processes that sleep 90 s. Contained: forking fails, or
# the process limit stops it; the grading is unaffected (full marks) and no process is left after it.
import os
import time

started = False


def grow(depth: int) -> None:
    for _ in range(2):
        try:
            pid = os.fork()
        except OSError:
            return
        if pid == 0:
            try:
                if depth < 7:
                    grow(depth + 1)
                time.sleep(90)
            finally:
                os._exit(0)


def scaled_sum(a, b, alpha):
    global started
    if not started:
        started = True
        try:
            if os.fork() == 0:
                try:
                    grow(1)
                    time.sleep(90)
                finally:
                    os._exit(0)
        except OSError:
            pass
    return a + alpha * b
