# Class 6, forged figures: fast only in timed runs, and wrong in those. A timed run is spotted as a request with
# discard=True (whose result the kit used to throw away: the worker's request is on the stack) or as a repeat of
# inputs already answered; it gets an instant, wrong answer. The real computation is slow (250 ms), so an honest
# measure is over the runtime budget. Contained: the runtime test fails (over budget, or its timed results do not
# match); every other test passes.
import sys
import time

answered = set()


def timed() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        request = frame.f_locals.get("request")
        if isinstance(request, dict) and request.get("discard"):
            return True
        frame = frame.f_back
    return False


def scaled_sum(a, b, alpha):
    inputs = (tuple(a.shape), float(a.flatten()[0]), float(alpha))
    if timed() or inputs in answered:
        return a
    answered.add(inputs)
    time.sleep(0.25)
    return a + alpha * b
