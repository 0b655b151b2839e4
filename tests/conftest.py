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
    """Drops `tf.test.TestCase.test_session` wherever it is inherited.

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
