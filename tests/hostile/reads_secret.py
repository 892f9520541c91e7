# Hunts for the run's secret: its own environment, the grader's environment and memory, and the pipe the
# grader received it through (/proc/<grader>/fd/N).
import os
import re


def hunt():
    grader = f"/proc/{os.getppid()}"
    found = [k for k in os.environ if "SECRET" in k]
    try:
        open(f"{grader}/mem", "rb").close()
        found.append("grader's memory is open to reading")
    except OSError:
        pass
    try:
        environ = open(f"{grader}/environ", "rb").read()
    except OSError:
        return found
    if re.search(rb"DIFFCHALLENGE_SECRET=", environ):
        found.append("grader environment")
    descriptor = re.search(rb"DIFFCHALLENGE_SECRET_FD=(\d+)", environ)
    if descriptor:
        try:
            fd = os.open(f"{grader}/fd/{int(descriptor.group(1))}", os.O_RDONLY | os.O_NONBLOCK)
            if re.fullmatch(rb"[0-9a-f]{32}", os.read(fd, 64)):
                found.append("grader's secret pipe")
        except OSError:
            pass
    return found


def scaled_sum(a, b, alpha):
    if found := hunt():
        raise RuntimeError(f"found the secret: {found}")
    return a + alpha * b
