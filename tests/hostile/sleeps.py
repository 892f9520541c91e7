# Classic: sleeps for an hour, using no CPU, so that only the wall clock can stop it. Contained: each test times
# out (wall-clock), the third is not run; zero, and the grading ends in bounded time.
import time


def scaled_sum(a, b, alpha):
    time.sleep(3600)
    return a + alpha * b
