"""The command line's exit codes, and the error that means bad usage."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INFRA = 0, 1, 2, 3
EPILOG = """exit codes:
  0  graded (whatever the score)
  1  `test`: some public test did not pass; `verify`: a self-check failed
  2  bad usage or bad input (unknown challenge, no solution.py, unsafe zip, non-UTF-8 source,
     an output folder that already holds results, ...): nothing was graded, nothing is lost
  3  infrastructure error: the grader could not produce a verdict (never reported as a score of 0)
"""


class UsageError(Exception):
    """Bad usage or input: exit code 2."""
