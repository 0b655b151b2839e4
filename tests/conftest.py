import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Every test starts with float32 policy and a fresh Keras name scope."""
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()
    yield
    keras.mixed_precision.set_global_policy("float32")
