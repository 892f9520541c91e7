"""pickle-scanner: list the globals a pickle would resolve, without running it. See README.md."""


def scan(path: str) -> list[str]:
    raise NotImplementedError(
        "scan is not implemented yet: walk the opcodes (pickletools.genops) of every pickle in the file (every .pkl "
        "member of a zip), follow the strings through the stack and the memo, and report each global outside the "
        "safe set as module.name")
