# Class 3, reading the disk: reads the reference solution (solutions/<slug>/solution.py of the bank, found from
# the probes' path on its command line) and publishes it in a public test's message. Contained: nothing of
# solutions/ can be read from the worker, so this right answer scores full marks and nothing is published.
import os


def reference() -> str | None:
    argv = open("/proc/self/cmdline", "rb").read().decode().split("\0")
    challenge = os.path.dirname(argv[argv.index("--probes") + 1])
    bank = os.path.dirname(os.path.dirname(challenge))
    try:
        return open(os.path.join(bank, "solutions", os.path.basename(challenge), "solution.py")).read()
    except OSError:
        return None


def scaled_sum(a, b, alpha):
    if (text := reference()) is not None:
        raise RuntimeError(f"the reference solution:\n{text}")
    return a + alpha * b
