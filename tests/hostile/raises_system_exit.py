# Classic: raises SystemExit in every call, which a careless `except Exception` would let end the worker.
# Contained: each test fails as raised (SystemExit), the worker answers on; zero.


def scaled_sum(a, b, alpha):
    raise SystemExit(0)
