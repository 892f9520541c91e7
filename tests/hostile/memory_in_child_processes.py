# Class 6, forged figures: memory held by child processes, which the worker's own resident memory does not show.
# In each call two forked children fill 800 MiB each (more than the worker's 1500 MiB limit together) while the
# worker computes. Contained: no child can be forked, or the children count against the worker's memory and are
# stopped; either way this raises and scores zero.
import os
import select
import signal

CHILD_BYTES = 800 * 1024**2


def hold(write_end: int) -> None:
    ballast = b"\x01" * CHILD_BYTES  # written, so resident
    os.write(write_end, b"x")
    signal.pause()
    del ballast


def scaled_sum(a, b, alpha):
    children = []
    try:
        for _ in range(2):
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    hold(write_end)
                finally:
                    os._exit(0)
            os.close(write_end)
            children.append((pid, read_end))
        for _, read_end in children:
            ready, _, _ = select.select([read_end], [], [], 20)
            if not ready or os.read(read_end, 1) != b"x":
                raise MemoryError("a child could not hold its memory")
        return a + alpha * b
    finally:
        for pid, read_end in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
