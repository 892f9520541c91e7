"""Start a worker: ``python -I -m pytest_diffchallenge.worker --submission DIR --probes FILE ...``."""

from pytest_diffchallenge.worker.start import main

main()
