"""Shared test helpers (the KerasHub `TestCase` pattern)."""

import copy
import json
import os

import keras
import numpy as np
import tensorflow as tf


class TestCase(tf.test.TestCase):
    """Adds layer round-trip helpers to `tf.test.TestCase`."""

    # `tf.test.TestCase.test_session` is a deprecated TF1 context manager, not a
    # test, but its name makes pytest collect it in every subclass, where it
    # skips ("Not a test."). As a property it is not callable on the class, so
    # the unittest loader (and pytest) no longer collect it, and a skip in the
    # report is a real skip; on an instance it is still TF's method (used by
    # `self.evaluate` in graph mode). tests/conftest.py drops it too for a
    # class that subclasses `tf.test.TestCase` directly.
    @property
    def test_session(self):
        return super().test_session

    def setUp(self):
        super().setUp()
        keras.mixed_precision.set_global_policy("float32")
        keras.utils.set_random_seed(0)

    def tearDown(self):
        keras.mixed_precision.set_global_policy("float32")
        super().tearDown()

    def assert_every_variable_has_a_gradient(self, variables, grads):
        """Each variable has a gradient, not None and not all zeros (message: its path)."""
        self.assertEqual(len(variables), len(grads))
        for variable, grad in zip(variables, grads):
            self.assertIsNotNone(grad, variable.path)
            self.assertGreater(float(tf.reduce_max(tf.abs(grad))), 0.0, variable.path)

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

    # === The layer contract (KerasHub's `run_layer_test` pattern) ===

    def run_layer_test(
        self,
        cls,
        init_kwargs,
        input_data,
        call_kwargs=None,
        expected_output_shape=None,
        expected_output_dtype=None,
        run_saving_checks=True,
        run_precision_checks=True,
        precision_policies=("float32", "mixed_float16", "mixed_bfloat16"),
    ):
        """Checks the contract every public layer keeps.

        1. `cls(**init_kwargs)` called on `input_data` gives `expected_output_shape`
           (a shape, or a tuple of shapes for several outputs), and, for one
           output without `call_kwargs`, `compute_output_shape` agrees.
        2. Config: `from_config(get_config())` and the JSON route
           (`serialize_keras_object` -> `json.dumps` -> `json.loads` ->
           `deserialize_keras_object`) give an instance of `cls` with the same
           config (as JSON, for the second); the serialized `registered_name` is the class's registered name.
        3. `.keras`: a functional model around the layer saves, reloads with
           `safe_mode=True` and gives equal outputs (`run_saving_roundtrip`).
        4. Precision: under each policy of `precision_policies` a fresh layer
           gives finite outputs of dtype `expected_output_dtype` (default: the
           policy's compute dtype), every variable is float32 (the variable
           dtype of all three policies) and every sub-layer has the layer's
           dtype policy. The global policy is reset to float32 afterwards.

        Args:
            cls: the layer class.
            init_kwargs: dict of constructor arguments, or a callable returning
                one: use a callable when an argument is itself a layer (as
                `ImprovedSpectralNormalization(layer=...)`), so that every
                instance gets a fresh one created under the policy checked.
            input_data: numpy array, or a list of them (one per positional
                argument of `call`).
            call_kwargs: dict, default None. Keyword arguments of `call`.
            expected_output_shape: tuple, or tuple of tuples, default None
                (not checked).
            expected_output_dtype: None (the policy's compute dtype), a dtype
                name (a layer documented to return that dtype whatever the
                policy), or a callable `policy -> dtype name`.
            run_saving_checks: bool, default True.
            run_precision_checks: bool, default True.
            precision_policies: policies checked by the precision step.
        """
        make_kwargs = init_kwargs if callable(init_kwargs) else (lambda: dict(init_kwargs))
        call_kwargs = dict(call_kwargs or {})
        arrays = list(input_data) if isinstance(input_data, (list, tuple)) else [input_data]

        # 1. Call and shapes.
        layer = cls(**make_kwargs())
        outputs = layer(*arrays, **call_kwargs)
        if expected_output_shape is not None:
            flat = tf.nest.flatten(outputs)
            expected = (
                [expected_output_shape]
                if all(isinstance(d, int) or d is None for d in expected_output_shape)
                else list(expected_output_shape)
            )
            self.assertEqual([tuple(o.shape) for o in flat], [tuple(e) for e in expected])
        if not call_kwargs and not isinstance(outputs, (list, tuple, dict)):
            self.assertEqual(
                tuple(layer.compute_output_shape(*[a.shape for a in arrays])), tuple(outputs.shape)
            )

        # 2. Config, directly and through JSON.
        self.run_config_roundtrip(layer)
        self.run_json_roundtrip(layer)

        # 3. `.keras` file.
        if run_saving_checks:
            self.run_saving_roundtrip(cls(**make_kwargs()), arrays, call_kwargs)

        # 4. Dtype policies.
        if run_precision_checks:
            for policy in precision_policies:
                self.run_precision_check(
                    cls, make_kwargs, arrays, call_kwargs, policy, expected_output_dtype
                )
        return layer

    def run_json_roundtrip(self, obj):
        """`serialize_keras_object` -> JSON text -> `deserialize_keras_object`: same config.

        Works for layers and initializers; returns the revived object.
        """
        serialized = keras.saving.serialize_keras_object(obj)
        self.assertEqual(serialized["registered_name"], keras.saving.get_registered_name(type(obj)))
        revived = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
        self.assertIs(type(revived), type(obj))
        # Compared as JSON: JSON has no tuples, so a nested `build_config`
        # shape (a tuple before, a list after) may differ in type only.
        as_json = lambda config: json.loads(json.dumps(config))  # noqa: E731
        self.assertEqual(as_json(revived.get_config()), as_json(obj.get_config()))
        return revived

    def run_precision_check(
        self, cls, make_kwargs, arrays, call_kwargs, policy, expected_output_dtype=None
    ):
        """One policy of `run_layer_test`'s precision step (see there)."""
        keras.mixed_precision.set_global_policy(policy)
        try:
            policy = keras.mixed_precision.global_policy()
            layer = cls(**make_kwargs())
            outputs = layer(*arrays, **(call_kwargs or {}))
            if expected_output_dtype is None:
                want = policy.compute_dtype
            elif callable(expected_output_dtype):
                want = expected_output_dtype(policy)
            else:
                want = expected_output_dtype
            for out in tf.nest.flatten(outputs):
                self.assertEqual(keras.backend.standardize_dtype(out.dtype), want, policy.name)
                self.assertTrue(
                    np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32")))),
                    policy.name,
                )
            self.assertEqual(layer.dtype_policy.name, policy.name)
            for variable in layer.variables:
                self.assertEqual(variable.dtype, policy.variable_dtype, (policy.name, variable.path))
            for sublayer in layer._flatten_layers(include_self=False):
                self.assertEqual(
                    sublayer.dtype_policy.name, policy.name, (policy.name, sublayer.name)
                )
            return layer
        finally:
            keras.mixed_precision.set_global_policy("float32")
