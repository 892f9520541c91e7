# Class 9, garbage data: writes, on its own reply pipe, a frame header that announces 1 GiB, then waits. The
# trusted side must refuse it from the header, before reading (or allocating) anything. Contained: refused as
# malformed (crashed), the worker stopped; zero, and the grading goes on.
import os
import struct
import time


def scaled_sum(a, b, alpha):
    argv = open("/proc/self/cmdline", "rb").read().decode().split("\0")
    os.write(int(argv[argv.index("--write-fd") + 1]), struct.pack(">II", 1 << 30, 0))
    time.sleep(30)
    return a + alpha * b
