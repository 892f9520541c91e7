# Hunts for the run's secret: its own environment, the grader's environment, and the pipe the grader
# received it through (/proc/<grader>/fd/N).
import os
import re


def hunt():
    found = [k for k in os.environ if "SECRET" in k]
    environ = open(f"/proc/{os.getppid()}/environ", "rb").read()
    if re.search(rb"DIFFCHALLENGE_SECRET=", environ):
        found.append("grader environment")
    descriptor = re.search(rb"DIFFCHALLENGE_SECRET_FD=(\d+)", environ)
    if descriptor:
        try:
            fd = os.open(f"/proc/{os.getppid()}/fd/{int(descriptor.group(1))}", os.O_RDONLY | os.O_NONBLOCK)
            if os.read(fd, 64):
                found.append("grader's secret pipe")
        except OSError:
            pass
    return found


def scaled_sum(a, b, alpha):
    if found := hunt():
        raise RuntimeError(f"found the secret: {found}")
    return a + alpha * b
