# Class 9, garbage data: writes a reply frame whose JSON is not UTF-8, on its own reply pipe, then waits.
# Contained: refused as malformed (crashed), the worker stopped; zero, and the grading goes on.
import os
import struct
import time

BODY = b'{"ok": true, "result": {"out": "\xff\xfe\xc3\x28 not utf-8"}}'


def scaled_sum(a, b, alpha):
    argv = open("/proc/self/cmdline", "rb").read().decode().split("\0")
    os.write(int(argv[argv.index("--write-fd") + 1]), struct.pack(">II", len(BODY), 0) + BODY)
    time.sleep(30)
    return a + alpha * b
