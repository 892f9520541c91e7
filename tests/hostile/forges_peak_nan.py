# Class 6, forged figures: monkeypatches the worker's reply (Worker.run) so that the measured peak is NaN.
# Contained: the figure is refused, the memory test fails (never passes on a forged figure) and every report is
# still valid JSON; the other tests pass.
from pytest_diffchallenge.worker import serve

run = serve.Worker.run


def forged_run(self, request):
    reply = run(self, request)
    if "peak_bytes" in reply:
        reply["peak_bytes"] = float("nan")
    return reply


serve.Worker.run = forged_run


def scaled_sum(a, b, alpha):
    return a + alpha * b
