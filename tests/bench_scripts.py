"""Loads a `bench/` script as a module, so that tests can call its functions."""

import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench_script_path(name):
    """Returns the path of `bench/NAME.py` in this checkout."""
    return os.path.join(REPO, "bench", f"{name}.py")


def load_bench_script(name):
    """Executes `bench/NAME.py` (not as `__main__`) and returns it as the module `bench_NAME`.

    `bench/` is a folder of scripts, not a package; each call loads a fresh module.
    """
    spec = importlib.util.spec_from_file_location(f"bench_{name}", bench_script_path(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
