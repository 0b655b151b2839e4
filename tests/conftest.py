import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.jax_subprocess import with_test_xla_flags  # noqa: E402

# Before TensorFlow starts: its XLA steps and every subprocess compile with the tests'
# flags (tests/jax_subprocess.py, docs/testing.md).
os.environ["XLA_FLAGS"] = with_test_xla_flags(os.environ.get("XLA_FLAGS"))

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Every test starts with float32 policy and a fresh Keras name scope."""
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()
    yield
    keras.mixed_precision.set_global_policy("float32")


def pytest_collection_modifyitems(config, items):
    """Drops `tf.test.TestCase.test_session` wherever it is inherited, and puts the
    heaviest scopes first (`HEAVY_SCOPES_FIRST`, below).

    It is a deprecated TF1 context manager that pytest collects as a test (and
    skips) in every `tf.test.TestCase` subclass. `tests.test_case.TestCase`
    hides it (a `test_session` property); this catches a class that subclasses
    `tf.test.TestCase` directly. Dropped silently, not reported as deselected:
    it was never a test.
    """
    import tensorflow as tf

    inherited = tf.test.TestCase.test_session
    items[:] = [
        item for item in items
        if not (item.name == "test_session" and getattr(item, "obj", None) is not None
                and getattr(item.obj, "__func__", item.obj) is inherited)
    ]
    items.sort(key=_heavy_scopes_first)


# The suite's heaviest xdist scopes (`--dist loadscope`: a module's functions, or one test
# class), heaviest first, in seconds of the 40 slowest phases of one run's `--durations`
# (2026-12-08, docs/testing.md). README's test command passes `--no-loadscope-reorder`, so
# xdist hands scopes out in this order: the two processes start on the long ones and end on
# short ones, instead of one process ending alone on a long scope (xdist's default order is
# by test count, which puts these few-test scopes last). The rest keep their collected order.
HEAVY_SCOPES_FIRST = (
    "tests/test_jax_step.py",                      # 200 s
    "tests/test_ablation.py::AblationScriptTest",  # 194
    "tests/test_distributed.py::DistributedTest",  # 175
    "tests/test_train.py::TrainStepTest",          # 144
    "tests/test_gpu_check.py",                     # 144
    "tests/test_train.py::ResumeTest",             # 92
    "tests/test_cli_errors.py",                    # 87
    "tests/test_bench_train_step.py",              # 80
    "tests/test_train.py::RunFolderTest",          # 68
    "tests/test_backends.py",                      # 66
    "tests/test_builtin_preset.py",                # 63
    "tests/test_evaluate.py",                      # 60
)


def _heavy_scopes_first(item):
    """Sort key: the rank of the item's scope in `HEAVY_SCOPES_FIRST`, then the rest (stable)."""
    for rank, scope in enumerate(HEAVY_SCOPES_FIRST):
        if item.nodeid.startswith(scope + "::"):
            return rank
    return len(HEAVY_SCOPES_FIRST)
