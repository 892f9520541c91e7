"""Where gradings run: ``local`` and ``forkserver`` start the trusted session on this machine (a fresh
interpreter, or a fork of a warm one), ``docker`` grades inside a hardened container of the image that
``image`` builds."""

DEFAULT_PIDS = 512  # a container's process limit: the grader, two workers and their threads, with room
