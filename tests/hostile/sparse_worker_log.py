# Class 9, garbage data: its output (the worker's log) becomes a sparse file of 1 TiB, with fake "passed" lines
# at the end, and then the worker exits: the trusted side quotes the log's tail when a worker dies.
# Contained: the tail is read from the end without reading the file, the test fails (crashed) and the file goes
# with the worker's folder; zero.
import os


def scaled_sum(a, b, alpha):
    os.lseek(1, 1 << 40, os.SEEK_SET)
    os.write(1, b"\ntest_public.py::test_small PASSED\n3 passed in 0.01s\n")
    os._exit(1)
