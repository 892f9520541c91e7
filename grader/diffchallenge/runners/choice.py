"""Which runner a command grades with: ``--runner local|docker`` and the container's limits."""

from __future__ import annotations

import argparse

from diffchallenge.runners import DEFAULT_PIDS


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """`--runner docker|local` and the container's limits, for `grade`, `grade-batch` and nbgrader."""
    group = parser.add_argument_group("runner", "where the submission runs (docker/README.md)")
    group.add_argument("--runner", choices=("local", "docker"), default="local",
                       help="local: worker processes on this machine; docker: a hardened container per submission")
    group.add_argument("--image", help="grading image (default diffchallenge:cpu, or diffchallenge:gpu on cuda)")
    group.add_argument("--gpus", metavar="all|N|ID,ID", help="GPUs for the container (default: all when on cuda)")
    group.add_argument("--memory", metavar="SIZE", help="container memory (default: the worker's limit + 2 GiB)")
    group.add_argument("--cpus", type=float, help="container CPUs (default: the grading's threads)")
    group.add_argument("--pids", type=int, help=f"container process limit (default {DEFAULT_PIDS})")
    group.add_argument("--wall-clock", type=float, metavar="SECONDS",
                       help="hard limit for the whole container (default: from the challenge's time limits)")


def docker_settings(args: argparse.Namespace) -> dict | None:
    """The Docker runner's settings when `--runner docker` was given (plain data: a Ray node builds its own runner)."""
    if getattr(args, "runner", "local") != "docker":
        return None
    return {"image": args.image, "gpus": args.gpus, "memory": args.memory, "cpus": args.cpus, "pids": args.pids,
            "wall_clock_s": args.wall_clock}


def docker_runner(args: argparse.Namespace):
    """The Docker runner when `--runner docker` was given (engine and image checked now), else None."""
    settings = docker_settings(args)
    if settings is None:
        return None
    from diffchallenge.grading import GradeOptions
    from diffchallenge.runners.docker import DockerRunner, image_tag

    runner = DockerRunner(**settings)
    runner.check_image(*image_tag(GradeOptions(device=args.device), args.image))
    return runner


def runner_for(args: argparse.Namespace):
    """The runner the user chose: Docker, or local sessions (each a fresh interpreter)."""
    from diffchallenge.grading import LocalRunner

    return docker_runner(args) or LocalRunner()
