# Class 9, garbage data: sends, on its own reply pipe, a frame whose answer is nested 600 lists deep (written by
# hand: the worker's own encoder would not), a reply that would exhaust a recursive decoder's stack.
# Contained: refused as malformed (crashed), the worker stopped; zero, and the grading goes on.
import os
import struct
import time

BODY = ('{"ok": true, "result": {"out": ' + "[" * 600 + "1.0" + "]" * 600 + "}}").encode()


def scaled_sum(a, b, alpha):
    argv = open("/proc/self/cmdline", "rb").read().decode().split("\0")
    os.write(int(argv[argv.index("--write-fd") + 1]), struct.pack(">II", len(BODY), 0) + BODY)
    time.sleep(30)
    return a + alpha * b
