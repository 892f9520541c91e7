# Class 8, persistence: leaves files in /tmp, outside its own folder: a file, a hidden folder, a symlink into
# the worker's folder. Contained: nothing outside the worker's folder can be written (or it is removed with the
# grading): full marks, nothing new in /tmp, and the next grading is as if it never ran.
import os


def leave() -> None:
    for action in (lambda: open("/tmp/hostile-leftover.txt", "w").write("left behind\n"),
                   lambda: os.makedirs("/tmp/.hostile-leftover/nested", exist_ok=True),
                   lambda: os.symlink(os.getcwd(), "/tmp/hostile-leftover-link")):
        try:
            action()
        except OSError:
            pass


leave()


def scaled_sum(a, b, alpha):
    return a + alpha * b
