"""The worker template's protocol, without a template: what it accepts, and the session's side of a connection."""

import json
import signal
import socket
import subprocess
import sys

import pytest

from pytest_diffchallenge.spawning import TEMPLATE_LOST, ForkedWorker, last_word
from pytest_diffchallenge.worker.template import WORKER_MODULE, Refused, checked_request

WORKER = [sys.executable, "-I", "-m", WORKER_MODULE, "--submission", "/s", "--probes", "/p", "--read-fd", "7",
          "--write-fd", "9"]


def request(**changes) -> bytes:
    return json.dumps({"argv": WORKER, "cwd": "/w", "env": {"HOME": "/w"}, "pass_fds": [7, 9], "user": None,
                       **changes}).encode()


def test_a_worker_request_is_accepted_with_its_descriptors():
    start = checked_request(request(user={"user": 1000, "group": 1000, "extra_groups": []}), [11, 12, 13])
    assert (start.argv, start.cwd, start.env) == (WORKER, "/w", {"HOME": "/w"})
    assert (start.log_fd, start.passed_fds, start.targets) == (11, [12, 13], [7, 9])
    assert start.user == {"user": 1000, "group": 1000, "extra_groups": []}


@pytest.mark.parametrize(("changes", "fds", "why"), [
    ({"argv": ["/bin/sh", "-c", "id"]}, [1, 2, 3], "not a worker's command line"),
    ({"argv": ["/usr/bin/python3", *WORKER[1:]]}, [1, 2, 3], "not a worker's command line"),
    ({"argv": [*WORKER, "--device", "cuda"]}, [1, 2, 3], "CPU workers only"),
    ({"argv": [*WORKER, "--unknown"]}, [1, 2, 3], "arguments the worker does not accept"),
    ({"cwd": "relative"}, [1, 2, 3], "absolute path"),
    ({"env": {"HOME": 1}}, [1, 2, 3], "map names to strings"),
    ({"pass_fds": [1, 9]}, [1, 2, 3], "above 2"),
    ({}, [1, 2], "each descriptor passed after the log"),
    ({"user": {"user": "root"}}, [1, 2, 3], "as numbers"),
    ({"user": {"umask": 0}}, [1, 2, 3], "Popen's user, group and extra_groups"),
], ids=["shell", "another interpreter", "cuda", "unknown option", "cwd", "env", "stdio", "fd count", "user name",
        "unknown user key"])
def test_anything_else_is_refused(changes, fds, why):
    with pytest.raises(Refused, match=why):
        checked_request(request(**changes), fds)


def test_malformed_requests_are_refused():
    for payload in (b"not json", b"[]", json.dumps({"argv": WORKER}).encode()):
        with pytest.raises(Refused, match="malformed request"):
            checked_request(payload, [1, 2, 3])


@pytest.fixture
def connection():
    """The session's end of a connection (a ForkedWorker's), and the template's."""
    session, template = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    yield session, template
    session.close()
    template.close()


def test_a_forked_worker_waits_as_popen_does(connection):
    session, template = connection
    worker = ForkedWorker(session, 4242, WORKER)
    assert worker.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        worker.wait(timeout=0.05)
    template.send(json.dumps({"returncode": -signal.SIGSEGV}).encode())
    assert worker.wait(timeout=5) == worker.returncode == -signal.SIGSEGV
    assert session.fileno() == -1, "the connection is closed once the status is known"


@pytest.mark.parametrize("last", [b"", b"not json", json.dumps({"returncode": "3"}).encode()],
                         ids=["closed", "garbage", "not a number"])
def test_a_template_that_goes_or_babbles_means_a_killed_worker(connection, last):
    session, template = connection
    worker = ForkedWorker(session, 4242, WORKER)
    if last:
        template.send(last)
    else:
        template.close()
    assert worker.wait(timeout=5) == TEMPLATE_LOST == -signal.SIGKILL


def test_after_a_time_out_the_template_can_no_longer_tell_a_pid(connection):
    session, template = connection
    template.send(json.dumps({"pid": 4242}).encode())  # sent before the session stopped reading: it counts
    assert json.loads(last_word(session)) == {"pid": 4242}
    with pytest.raises(BrokenPipeError):  # so the template lets no child run
        template.send(json.dumps({"pid": 4343}).encode())
