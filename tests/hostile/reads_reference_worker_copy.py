# Class 5, the reference worker: the reference solution's worker holds a copy of the reference solution in its
# own folder (its command line says where); read it and publish it. Contained: nothing outside this worker's own
# folder can be read, so this right answer scores full marks and nothing of the reference is published.
import os


def reference_copy() -> str | None:
    grading = os.path.dirname(os.getcwd()).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            argv = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"pytest_diffchallenge.worker" in argv and grading in b" ".join(argv) and b"--submission" in argv:
            folder = argv[argv.index(b"--submission") + 1].decode()
            try:
                return open(os.path.join(folder, "solution.py")).read()
            except OSError:
                return None
    return None


def scaled_sum(a, b, alpha):
    if (text := reference_copy()) is not None:
        raise RuntimeError(f"the reference worker's copy:\n{text}")
    return a + alpha * b
