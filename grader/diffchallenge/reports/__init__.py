"""Reports written from a verdict: ``results`` (results.json, and which reports go beside it),
``gradescope``, ``junit``, ``feedback`` (what a candidate may see) and ``gradebook`` (a batch)."""
