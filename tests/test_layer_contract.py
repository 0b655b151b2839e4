"""The layer contract (`TestCase.run_layer_test`) for every registered vitgan_tf layer.

Each public layer of `vitgan_tf.layers` (and each other layer or initializer
registered under the Keras package "vitgan_tf") has one case here: config and
JSON round trips, a `.keras` round trip with equal outputs, and output,
variable and sub-layer dtypes under float32, mixed_float16 and
mixed_bfloat16. `test_every_registered_class_has_a_contract_case` fails when
a layer is registered without a case.
"""

import inspect

import keras
import numpy as np

import vitgan_tf  # noqa: F401  (registers every serializable class)
from tests.layer_cases import LAYER_CASES as PUBLIC_CASES
from tests.layer_cases import normal
from tests.test_case import TestCase
from vitgan_tf import layers
from vitgan_tf.layers.initializers import WindowGlorotUniform
from vitgan_tf.metrics import inception
from vitgan_tf.training.schedules import LinearWarmup


LAYER_CASES = {
    **PUBLIC_CASES,
    # Registered outside vitgan_tf.layers (the FID Inception network).
    inception.ConvBatchNormReLU: [
        ("same_stride2", dict(init_kwargs=dict(filters=4, kernel_size=3, strides=2, padding="same"),
                              input_data=normal(2, 6, 6, 3), expected_output_shape=(2, 3, 3, 4))),
    ],
    inception.InceptionPreprocessing: [
        # Computes in float32 whatever the policy (`call` casts the images to
        # float32; the FID statistics are float32), so its output is float32.
        ("resize", dict(init_kwargs=dict(size=8), input_data=np.abs(normal(2, 4, 4, 1)) * 100,
                        expected_output_shape=(2, 8, 8, 3), expected_output_dtype="float32")),
    ],
}

INITIALIZER_CASES = {
    WindowGlorotUniform: [("seed", dict(seed=3)), ("no_seed", dict())],
}

class LayerContractTest(TestCase):
    """One `test_<Class>_<case>` per entry of `LAYER_CASES` (added below)."""


def _add_case(cls, case, kwargs):
    def test(self):
        self.run_layer_test(cls, **kwargs)

    test.__name__ = f"test_{cls.__name__}_{case}"
    test.__doc__ = f"run_layer_test({cls.__name__}), case {case!r}."
    setattr(LayerContractTest, test.__name__, test)


for _cls, _cases in LAYER_CASES.items():
    for _case, _kwargs in _cases:
        _add_case(_cls, _case, _kwargs)


class InitializerContractTest(TestCase):
    def test_window_glorot_uniform(self):
        for _, kwargs in INITIALIZER_CASES[WindowGlorotUniform]:
            initializer = WindowGlorotUniform(**kwargs)
            self.assertEqual(keras.saving.get_registered_name(WindowGlorotUniform),
                             "vitgan_tf>WindowGlorotUniform")
            self.assertIs(keras.saving.get_registered_object("vitgan_tf>WindowGlorotUniform"),
                          WindowGlorotUniform)
            self.assertIsInstance(keras.initializers.get("vitgan_tf>WindowGlorotUniform"),
                                  WindowGlorotUniform)
            clone = WindowGlorotUniform.from_config(initializer.get_config())
            self.assertEqual(clone.get_config(), initializer.get_config())
            revived = self.run_json_roundtrip(initializer)
            if kwargs.get("seed") is not None:
                # A seeded initializer revived from JSON draws the same kernel.
                self.assertAllEqual(revived((4, 4, 3, 8)), initializer((4, 4, 3, 8)))


def _registered_vitgan_classes():
    keras_objects = keras.saving.get_custom_objects()
    return {name: obj for name, obj in keras_objects.items() if name.startswith("vitgan_tf>")}


# Registered functions and the test class that covers them.
FUNCTION_CASES = {layers.gelu: "tests/test_layers.py::GeluTest",
                  layers.scaled_leaky_relu: "tests/test_stylegan2.py::LayersTest"}
# Learning-rate schedules: where their values and config round trip are tested.
SCHEDULE_CASES = {LinearWarmup: "tests/test_stylegan2.py::LinearWarmupTest"}


class CoverageTest(TestCase):
    def test_every_registered_class_has_a_contract_case(self):
        registered = _registered_vitgan_classes()
        self.assertNotEmpty(registered)
        missing, unknown = [], []
        for name, obj in sorted(registered.items()):
            if inspect.isfunction(obj):  # activations: values, derivatives, saving
                if obj not in FUNCTION_CASES:
                    missing.append(name)
            elif not inspect.isclass(obj):
                unknown.append(name)
            elif issubclass(obj, keras.Model):
                continue  # the models: tests/test_models.py, tests/test_train.py
            elif issubclass(obj, keras.layers.Layer):
                if obj not in LAYER_CASES:
                    missing.append(name)
            elif issubclass(obj, keras.initializers.Initializer):
                if obj not in INITIALIZER_CASES:
                    missing.append(name)
            elif issubclass(obj, keras.optimizers.schedules.LearningRateSchedule):
                if obj not in SCHEDULE_CASES:
                    missing.append(name)
            else:
                unknown.append(name)
        self.assertEqual(missing, [], "registered without a case in tests/test_layer_contract.py")
        self.assertEqual(unknown, [], "registered, but neither a model, a layer, an initializer, a schedule nor a function")

    def test_every_exported_layer_has_a_contract_case(self):
        exported = [obj for obj in vars(layers).values()
                    if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer)]
        self.assertLen(exported, 20)
        self.assertEqual([c.__name__ for c in exported if c not in LAYER_CASES], [])
        for cls in exported:  # exported means registered too (so `.keras` files load)
            self.assertEqual(keras.saving.get_registered_name(cls), f"vitgan_tf>{cls.__name__}")
