"""Shared test helpers (the KerasHub `TestCase` pattern)."""

import copy
import os

import keras
import numpy as np
import tensorflow as tf


class TestCase(tf.test.TestCase):
    """Adds layer round-trip helpers to `tf.test.TestCase`."""

    # `tf.test.TestCase.test_session` is a deprecated TF1 context manager, not a
    # test, but its name makes pytest collect it in every subclass, where it
    # skips ("Not a test."). Shadowing it with a non-callable hides it from the
    # unittest loader, so a skip in the report is a real skip. (tests/conftest.py
    # drops it too for a class that subclasses `tf.test.TestCase` directly.)
    test_session = None

    def setUp(self):
        super().setUp()
        keras.mixed_precision.set_global_policy("float32")
        keras.utils.set_random_seed(0)

    def tearDown(self):
        keras.mixed_precision.set_global_policy("float32")
        super().tearDown()

    def run_config_roundtrip(self, layer):
        """`from_config(get_config())` gives a layer with the same config."""
        config = layer.get_config()
        clone = layer.__class__.from_config(copy.deepcopy(config))  # from_config may pop keys
        self.assertEqual(clone.get_config(), config)
        return clone

    def run_saving_roundtrip(self, layer, inputs, call_kwargs=None):
        """Wrap `layer` in a functional model, save as `.keras`, reload, compare.

        `inputs` is a numpy array or a list of numpy arrays (one per positional
        argument of `layer.call`).
        """
        call_kwargs = call_kwargs or {}
        arrays = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        symbolic = [keras.Input(a.shape[1:], dtype=a.dtype.name) for a in arrays]
        outputs = layer(*symbolic, **call_kwargs)
        model = keras.Model(symbolic, outputs)
        expected = model.predict(list(arrays), verbose=0)
        path = os.path.join(self.get_temp_dir(), "model.keras")
        model.save(path)
        restored = keras.saving.load_model(path, safe_mode=True)
        actual = restored.predict(list(arrays), verbose=0)
        tf.nest.map_structure(
            lambda a, b: self.assertAllClose(a, b, atol=1e-6, rtol=1e-6),
            expected,
            actual,
        )
        return restored

    def run_mixed_precision_call(self, layer_fn, inputs, call_kwargs=None):
        """Builds a fresh layer under `mixed_float16` and calls it; returns outputs."""
        keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            layer = layer_fn()
            arrays = inputs if isinstance(inputs, (list, tuple)) else [inputs]
            outputs = layer(*arrays, **(call_kwargs or {}))
            for out in tf.nest.flatten(outputs):
                self.assertTrue(np.all(np.isfinite(keras.ops.convert_to_numpy(out))))
            return layer, outputs
        finally:
            keras.mixed_precision.set_global_policy("float32")
