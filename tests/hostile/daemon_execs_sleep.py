# Class 7, process control: a daemon that covers its tracks: double fork, setsid, an empty environment, the
# working directory /, every descriptor closed, then exec of `sleep 90`: nothing in its command line, environment
# or folder says which grading it came from. Contained: it cannot fork or exec, or it is killed with the worker:
# full marks and no process left.
import os

started = False


def scaled_sum(a, b, alpha):
    global started
    if not started:
        started = True
        try:
            if os.fork() == 0:
                try:
                    os.setsid()
                    if os.fork() == 0:
                        os.chdir("/")
                        os.closerange(0, 1024)
                        os.execve("/bin/sleep", ["sleep", "90"], {})
                finally:
                    os._exit(0)
        except OSError:
            pass
    return a + alpha * b
