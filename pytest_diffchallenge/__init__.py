"""pytest plugin of diffchallenge: what runs inside the trusted pytest session when a submission is graded,
and the worker where candidate code runs. ``plugin`` is the entry point; its docstring lists the modules.
"""
