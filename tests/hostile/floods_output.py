# Class 9, garbage data: writes 512 MiB of garbage (fake "PASSED" lines included) to its stdout and stderr in
# every call, then answers right. Contained: the flood stays in the worker's own log, which goes with its folder;
# no report grows with it. Each test passes, or fails as crashed if the worker's output is capped.
import os

CHUNK = (b"test_public.py::test_small PASSED\n" + bytes(range(256)) * 64) * 64


def scaled_sum(a, b, alpha):
    for _ in range((256 << 20) // len(CHUNK)):
        os.write(1, CHUNK)
        os.write(2, CHUNK)
    return a + alpha * b
