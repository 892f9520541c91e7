# Class 3, reading the disk: searches /tmp and /dev/shm for copies of hidden tests and reference solutions (a
# concurrent grading's reference worker, a test run's copy of a bank) and publishes what it finds.
# Contained: nothing outside the worker's own folder can be read, so this right answer scores full marks.
import os
import time

NAMES = ("test_hidden.py", "solution.py")


def copies() -> list[str]:
    own = os.path.realpath(os.getcwd())
    found, seen, deadline = [], 0, time.monotonic() + 3
    for top in ("/tmp", "/dev/shm"):
        for root, _, files in os.walk(top):
            seen += len(files)
            if seen > 20000 or time.monotonic() > deadline:
                return found
            if os.path.realpath(root).startswith(own):
                continue
            for name in files:
                if name in NAMES:
                    try:
                        found.append(f"{root}/{name}:\n" + open(os.path.join(root, name)).read(2000))
                    except OSError:
                        pass
    return found


def scaled_sum(a, b, alpha):
    if found := copies():
        raise RuntimeError("copies found:\n" + "\n".join(found))
    return a + alpha * b
