"""Reports written from a verdict: ``results`` (results.json, and which reports go beside it),
``gradescope``, ``junit``, ``feedback`` (what a candidate may see), ``html`` with ``charts`` (report.html,
one page with images and charts, for an interviewer or a candidate) and ``gradebook`` (a batch)."""
