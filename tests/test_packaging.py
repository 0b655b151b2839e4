"""The installed form: pyproject's dependencies and console scripts (README's commands
install the package with `pip install ... -e .`)."""

import importlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
import unittest

from packaging.requirements import Requirement

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pyproject():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _pins(path):
    """{name: version} of the `name==version` lines of a requirements file."""
    pins = {}
    with open(os.path.join(ROOT, path)) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                name, version = line.split("==")
                pins[name.strip().lower()] = version.strip()
    return pins


class PackagingTest(unittest.TestCase):
    def test_dependencies_match_the_pinned_requirements(self):
        requirements = [Requirement(r) for r in _pyproject()["dependencies"]]
        pins = _pins("requirements.txt")
        self.assertEqual(sorted(r.name.lower() for r in requirements), sorted(pins))
        for requirement in requirements:  # the pins CI tests satisfy the package's ranges
            self.assertIn(pins[requirement.name.lower()], requirement.specifier, requirement)
        dev = [Requirement(r) for r in _pyproject()["optional-dependencies"]["dev"]]
        dev_pins = _pins("requirements-dev.txt")
        self.assertEqual(sorted(r.name.lower() for r in dev), sorted(dev_pins))

    def test_console_scripts_point_at_command_line_mains(self):
        scripts = _pyproject()["scripts"]
        self.assertEqual(set(scripts), {"vitgan-train", "vitgan-evaluate", "vitgan-export",
                                        "vitgan-sample", "vitgan-ablation", "vitgan-tflite-demo",
                                        "vitgan-web-demo"})
        for name, target in scripts.items():
            module, function = target.split(":")
            main = getattr(importlib.import_module(module), function)
            self.assertTrue(callable(main), name)
            # The `python -m` form runs the same function.
            path = importlib.util.find_spec(module).origin
            with open(path) as f:
                self.assertRegex(f.read(), r'if __name__ == "__main__":\n    sys.exit\(main\(\)\)', path)

    def test_the_installed_package_is_this_checkout(self):
        try:
            dist = importlib.metadata.distribution("vitgan-tf")
        except importlib.metadata.PackageNotFoundError:
            self.fail("vitgan-tf is not installed: run README's test command (pip install ... -e .)")
        installed = {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
        self.assertEqual(installed, _pyproject()["scripts"], "reinstall: pip install -e .")
        script = shutil.which("vitgan-train")
        self.assertIsNotNone(script, "vitgan-train is not on PATH")
        out = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"usage: .*recipe")
        self.assertIn("--no-eval", out.stdout)
        # An editable install imports this checkout's modules, not a stale copy.
        probe = subprocess.run([sys.executable, "-c", "import vitgan_tf.recipes.train as t; print(t.__file__)"],
                               capture_output=True, text=True, timeout=120, cwd="/")
        self.assertEqual(probe.returncode, 0, probe.stderr)
        self.assertTrue(os.path.realpath(probe.stdout.strip()).startswith(os.path.realpath(ROOT)),
                        probe.stdout)

    def test_one_top_level_package(self):
        # `recipes` and `export` install under vitgan_tf: no top-level names that collide with
        # other projects'. The explicit package list names every package folder of the tree.
        with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
            setuptools_cfg = tomllib.load(f)["tool"]["setuptools"]
        listed = set(setuptools_cfg["packages"])
        self.assertEqual({name.split(".")[0] for name in listed}, {"vitgan_tf"})
        folders = {"vitgan_tf": "vitgan_tf", **setuptools_cfg["package-dir"]}
        found = set()
        for package, folder in folders.items():
            for dirpath, _, filenames in os.walk(os.path.join(ROOT, folder)):
                if "__init__.py" in filenames:
                    relative = os.path.relpath(dirpath, os.path.join(ROOT, folder))
                    found.add(package if relative == "." else f"{package}.{relative.replace(os.sep, '.')}")
        self.assertEqual(found, listed)
        dist = importlib.metadata.distribution("vitgan-tf")
        top_level = (dist.read_text("top_level.txt") or "vitgan_tf").split()
        self.assertEqual(top_level, ["vitgan_tf"], "reinstall: pip install -e .")
        # From outside the clone, only vitgan_tf's names import.
        probe = subprocess.run(
            [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('recipes'), "
             "u.find_spec('export'), u.find_spec('vitgan_tf.export.tflite_demo') is not None)"],
            capture_output=True, text=True, timeout=120, cwd="/")
        self.assertEqual(probe.stdout.split(), ["None", "None", "True"], probe.stderr)


class ReadmeCommandsTest(unittest.TestCase):
    def test_ci_runs_the_test_command_written_in_readme(self):
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
        tests = [b for b in blocks if "pytest" in b]
        self.assertEqual(len(tests), 1, tests)
        with open(os.path.join(ROOT, ".ci", "run")) as f:
            ci = [line for line in f.read().splitlines() if line and not line.startswith("#")][-1]
        quiet = lambda command: " ".join(t for t in command.split() if t != "-q")  # noqa: E731
        self.assertEqual(quiet(ci), quiet(tests[0]))
        main = [b for b in blocks if "recipes.train fashion_mnist" in b]
        self.assertTrue(main and "-e ." in main[0] and "-r requirements.txt" in main[0], main)


if __name__ == "__main__":
    unittest.main()
