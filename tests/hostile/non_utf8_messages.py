# Class 9, garbage data: what reaches the reports as text is hostile: an exception (of a class with a strange
# name) whose message holds lone surrogates, NUL and control characters, terminal escapes, a Markdown fence and
# XML's CDATA end; then output of invalid UTF-8 and a crash, so that the log's tail is quoted too.
# Contained: every test fails, and results.json, gradescope.json, junit.xml and feedback.md are all written and
# valid.
import os

JUNK = "\udcff\udc80 lone surrogates \x00 NUL \x07\x1b[31m red \x1b[0m ``` fence ]]> cdata <x/> \ufffe \U0010ffff"
Hostile = type("Hostile\u202e\n<x>", (Exception,), {})
calls = 0


def scaled_sum(a, b, alpha):
    global calls
    calls += 1
    if calls == 2:
        os.write(1, b"\xff\xfe\xc3\x28 invalid utf-8 \x00\x1b[2J" + JUNK.encode("utf-8", "surrogatepass"))
        os._exit(1)
    raise Hostile(JUNK)
