"""The pytest plugin (entry point ``pytest11: diffchallenge``): options, markers and the grading session.

Tests of a challenge talk to the submission only through the fixtures of ``checks``, behind a worker
process; comparisons, points and the verdict stay in this process. The parts:

- ``session``: the grading session and its hooks; ``markers``: points, limits and budgets;
- ``checks``: the fixtures (``submission``, ``equivalence``, ``runtime``, ...); ``faults``: what can go wrong;
- ``client``: the worker client; ``inprocess``: in-process debugging; ``worker``: the worker itself;
- ``verdict``: the verdict and results.json; ``metadata``: challenge.toml and what is secret.
"""

from __future__ import annotations

import os

import pytest

from pytest_diffchallenge import markers
from pytest_diffchallenge.sandboxing import SANDBOX_BEST_EFFORT, SANDBOX_MODES
from pytest_diffchallenge.session import PLUGIN_NAME, GradingSession

pytest_plugins = ["pytest_diffchallenge.checks"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("diffchallenge", "diffchallenge grading")
    group.addoption("--submission", metavar="DIR",
                    help="folder holding the candidate's solution.py (default: the challenge's own starter, "
                         "or the workspace itself)")
    group.addoption("--reference", metavar="DIR", help="folder of the reference solution, for runtime budgets")
    group.addoption("--diffchallenge-results", metavar="PATH", help="write the verdict as JSON to PATH")
    group.addoption("--diffchallenge-artifacts", metavar="DIR",
                    help="keep what each test compared, timed and measured in DIR, for reports (artifacts.py)")
    group.addoption("--diffchallenge-only", metavar="NODEID", action="append", default=[],
                    help="run only the test with this node id, as the verdict names it (repeatable)")
    group.addoption("--diffchallenge-scratch", metavar="DIR",
                    help="folder for the workers' temporary files (default: the system's)")
    group.addoption("--diffchallenge-device", default="cpu", help="device the challenges run on (cpu, cuda)")
    group.addoption("--diffchallenge-threads", type=int, default=os.cpu_count() or 1,
                    help="torch threads for each worker (split the cores between parallel gradings)")
    group.addoption("--public-only", action="store_true", help="deselect hidden tests")
    group.addoption("--diffchallenge-sandbox", choices=SANDBOX_MODES, default=SANDBOX_BEST_EFFORT,
                    help="the worker's kernel sandbox: 'required' (grading: a missing layer is the grader's "
                         "error), 'best-effort' (default: each layer the kernel has) or 'off' (UNSAFE)")
    group.addoption("--diffchallenge-trace-oracle", action="store_true",
                    help="record, per test, a digest of the library lines the oracle reaches (verify's check "
                         "that no branch depends on the secret); slower")
    group.addoption("--diffchallenge-in-process", action="store_true",
                    help="UNSAFE: run the solution inside this process (debugging, isolation-overhead "
                         "benchmarks); never for grading code you do not trust")


def pytest_configure(config: pytest.Config) -> None:
    markers.register(config)
    config.pluginmanager.register(GradingSession(config), PLUGIN_NAME)
