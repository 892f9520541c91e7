# Classic: a recursion bomb: lifts the recursion limit, then has the interpreter's C code recurse a million
# levels (repr of a list nested a million deep), which overflows the C stack. Contained: the test fails
# (crashed, or raised) and the grading goes on; zero.
import sys


def scaled_sum(a, b, alpha):
    sys.setrecursionlimit(10**8)
    nested: list = []
    for _ in range(10**6):
        nested = [nested]
    return repr(nested)
