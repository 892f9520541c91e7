# Class 8, persistence: leaves shared memory behind in /dev/shm: a plain file, and a POSIX shared memory segment
# taken off the resource tracker's list, so that nothing unlinks it at exit. Contained: /dev/shm cannot be
# written: full marks, nothing new in /dev/shm, and the next grading is as if it never ran.
from multiprocessing import resource_tracker, shared_memory


def leave() -> None:
    try:
        with open("/dev/shm/hostile-leftover", "wb") as handle:
            handle.write(b"\x01" * 4096)
    except OSError:
        pass
    try:
        segment = shared_memory.SharedMemory(name="hostile-segment", create=True, size=1 << 20)
        resource_tracker.unregister(segment._name, "shared_memory")
        segment.close()
    except Exception:  # whatever stops it, the attack failed
        pass


leave()


def scaled_sum(a, b, alpha):
    return a + alpha * b
