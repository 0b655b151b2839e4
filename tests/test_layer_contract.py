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
from tests.test_case import TestCase
from vitgan_tf import layers
from vitgan_tf.layers.utils import WindowGlorotUniform
from vitgan_tf.metrics import inception


def normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# class -> list of (case id, run_layer_test keyword arguments). Sizes are tiny.
LAYER_CASES = {
    layers.DotProductMultiHeadAttention: [
        ("plain", dict(init_kwargs=dict(num_heads=2, key_dim=4),
                       input_data=normal(2, 5, 8), expected_output_shape=(2, 5, 8))),
    ],
    layers.L2MultiHeadAttention: [
        # With ISN + equalized lr and the attention probabilities as a second output.
        ("isn_scores", dict(init_kwargs=dict(num_heads=2, key_dim=4, spectral_norm="isn",
                                             equalized_lr=True, output_dim=6),
                            input_data=normal(2, 5, 8),
                            call_kwargs=dict(return_attention_scores=True),
                            expected_output_shape=((2, 5, 6), (2, 2, 5, 5)))),
    ],
    layers.DiscriminatorBlock: [
        ("isn_l2", dict(init_kwargs=dict(num_heads=2, mlp_dim=12),
                        input_data=normal(2, 5, 8), expected_output_shape=(2, 5, 8))),
    ],
    layers.GeneratorBlock: [
        ("plain", dict(init_kwargs=dict(num_heads=2, mlp_dim=12),
                       input_data=[normal(2, 4, 8), normal(2, 6, seed=1)],
                       expected_output_shape=(2, 4, 8))),
    ],
    layers.FourierFeatures: [
        ("plain", dict(init_kwargs=dict(units=6), input_data=np.tanh(normal(2, 5, 2)),
                       expected_output_shape=(2, 5, 6))),
    ],
    layers.ImplicitPatchDecoder: [
        ("sin", dict(init_kwargs=dict(patch_size=2, channels=3, hidden_dim=8, fourier_dim=8,
                                      activation="sin", sin_omega=2.0),
                     input_data=normal(2, 4, 8), expected_output_shape=(2, 4, 4, 3))),
    ],
    layers.PatchPositionEmbedding: [
        ("plain", dict(init_kwargs=dict(grid_size=2, units=8), input_data=normal(2, 6),
                       expected_output_shape=(2, 4, 8))),
    ],
    layers.EqualizedDense: [
        ("plain", dict(init_kwargs=dict(units=5, lr_multiplier=0.5, bias_init=0.1,
                                        activation="leaky_relu"),
                       input_data=normal(2, 3), expected_output_shape=(2, 5))),
    ],
    layers.MappingNetwork: [
        ("plain", dict(init_kwargs=dict(units=8, num_layers=2), input_data=normal(2, 6),
                       expected_output_shape=(2, 8))),
    ],
    layers.SelfModulatedLayerNorm: [
        # Normalises in float32 and casts back: the output has the compute dtype.
        ("plain", dict(init_kwargs=dict(epsilon=1e-5), input_data=[normal(2, 4, 8), normal(2, 6, seed=1)],
                       expected_output_shape=(2, 4, 8))),
    ],
    layers.ClassTokenPositionEmbedding: [
        ("plain", dict(init_kwargs={}, input_data=normal(2, 4, 8), expected_output_shape=(2, 5, 8))),
    ],
    layers.OverlappingPatchEmbedding: [
        ("isn_window_glorot", dict(
            init_kwargs=dict(patch_size=2, hidden_dim=8, spectral_norm="isn",
                             kernel_initializer="vitgan_tf>WindowGlorotUniform"),
            input_data=np.tanh(normal(2, 4, 4, 3)), expected_output_shape=(2, 4, 8))),
    ],
    layers.ImprovedSpectralNormalization: [
        # A callable: every instance wraps a fresh Dense made under the policy checked.
        ("dense", dict(init_kwargs=lambda: dict(layer=keras.layers.Dense(6, name="dense")),
                       input_data=normal(2, 4), expected_output_shape=(2, 6))),
        ("dense_sn_equalized", dict(
            init_kwargs=lambda: dict(layer=keras.layers.Dense(6, name="dense"), use_init_scale=False,
                                     equalized_lr=True, gain=0.5),
            input_data=normal(2, 4), expected_output_shape=(2, 6))),
    ],
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


class CoverageTest(TestCase):
    def test_every_registered_class_has_a_contract_case(self):
        registered = _registered_vitgan_classes()
        self.assertNotEmpty(registered)
        missing, unknown = [], []
        for name, obj in sorted(registered.items()):
            if not inspect.isclass(obj):
                unknown.append(name)
            elif issubclass(obj, keras.Model):
                continue  # the models: tests/test_models.py, tests/test_train.py
            elif issubclass(obj, keras.layers.Layer):
                if obj not in LAYER_CASES:
                    missing.append(name)
            elif issubclass(obj, keras.initializers.Initializer):
                if obj not in INITIALIZER_CASES:
                    missing.append(name)
            else:
                unknown.append(name)
        self.assertEqual(missing, [], "registered without a case in tests/test_layer_contract.py")
        self.assertEqual(unknown, [], "registered, but neither a model, a layer nor an initializer")

    def test_every_exported_layer_has_a_contract_case(self):
        exported = [obj for obj in vars(layers).values()
                    if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer)]
        self.assertLen(exported, 13)
        self.assertEqual([c.__name__ for c in exported if c not in LAYER_CASES], [])
        for cls in exported:  # exported means registered too (so `.keras` files load)
            self.assertEqual(keras.saving.get_registered_name(cls), f"vitgan_tf>{cls.__name__}")
