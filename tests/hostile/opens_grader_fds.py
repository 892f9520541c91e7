# Class 7, process control: reaches for the trusted session's descriptors (/proc/<ppid>/fd: its pipes to this
# worker, its log, its results), its memory and environment, and the Docker engine's socket. Contained: none can
# be opened, so this right answer scores full marks; anything opened makes it raise.
import os
import socket


def reached() -> list[str]:
    found = []
    grader = f"/proc/{os.getppid()}"
    try:
        descriptors = os.listdir(f"{grader}/fd")
    except OSError:
        descriptors = []
    for name in descriptors:
        for mode in (os.O_RDONLY | os.O_NONBLOCK, os.O_WRONLY | os.O_NONBLOCK):
            try:
                os.close(os.open(f"{grader}/fd/{name}", mode))
                found.append(f"{grader}/fd/{name} ({mode})")
            except OSError:
                pass
    for name in ("mem", "environ"):
        try:
            open(f"{grader}/{name}", "rb").close()
            found.append(f"{grader}/{name}")
        except OSError:
            pass
    for path in ("/var/run/docker.sock", "/run/docker.sock"):
        try:
            with socket.socket(socket.AF_UNIX) as connection:
                connection.connect(path)
                found.append(path)
        except OSError:
            pass
    return found


def scaled_sum(a, b, alpha):
    if found := reached():
        raise RuntimeError(f"reached the grader's: {found}")
    return a + alpha * b
