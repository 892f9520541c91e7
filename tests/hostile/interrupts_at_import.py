# Classic: raises KeyboardInterrupt while solution.py is imported, as if Ctrl-C had been pressed in the grader.
# Contained: the import fails and every test says so; zero, and the grading is not interrupted.
raise KeyboardInterrupt


def scaled_sum(a, b, alpha):
    return a + alpha * b
