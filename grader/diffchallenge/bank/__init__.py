"""The challenge bank: ``challenges`` (finding challenges by slug), ``mutants``, ``scaffold`` (``new``) and
``verify`` (the author's self-check)."""
