"""diffchallenge: graded coding challenges for the diffusers ecosystem.

The orchestration side: the challenge bank (``bank``), grading a submission (``grading``) and the CLI
(``cli``). What runs inside pytest lives in the ``pytest_diffchallenge`` plugin.
"""

__version__ = "0.1.0"
