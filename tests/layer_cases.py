"""Test cases of every public layer of `vitgan_tf.layers`, importable on any Keras backend.

`LAYER_CASES` maps a layer class to `(case id, run_layer_test keyword arguments)` pairs;
`tests/test_layer_contract.py` runs the layer contract on them (TensorFlow) and
`tests/test_backends.py` compares their outputs across backends. No TensorFlow import here.
"""

import keras
import numpy as np

from vitgan_tf import layers


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
    layers.StyleTruncation: [
        # Identity on w; in training mode it updates its non-trainable w_avg.
        ("plain", dict(init_kwargs=dict(beta=0.9), input_data=normal(2, 8),
                       expected_output_shape=(2, 8))),
    ],
    layers.SelfModulatedLayerNorm: [
        # Normalises in float32 and casts back: the output has the compute dtype.
        ("plain", dict(init_kwargs=dict(epsilon=1e-5), input_data=[normal(2, 4, 8), normal(2, 6, seed=1)],
                       expected_output_shape=(2, 4, 8))),
    ],
    layers.ExactLayerNormalization: [
        ("plain", dict(init_kwargs=dict(epsilon=1e-6), input_data=normal(2, 4, 8),
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
    layers.Blur: [
        ("pad", dict(init_kwargs=dict(pad=(2, 1)), input_data=normal(2, 5, 5, 3),
                     expected_output_shape=(2, 5, 5, 3))),
    ],
    layers.EqualizedConv2D: [
        ("same", dict(init_kwargs=dict(filters=4, kernel_size=3), input_data=normal(2, 6, 6, 3),
                      expected_output_shape=(2, 6, 6, 4))),
        ("down_linear", dict(init_kwargs=dict(filters=4, kernel_size=1, downsample=True,
                                              activate=False),
                             input_data=normal(2, 6, 6, 3), expected_output_shape=(2, 3, 3, 4))),
    ],
    layers.StyleGAN2ResidualBlock: [
        ("plain", dict(init_kwargs=dict(filters=5), input_data=normal(2, 8, 8, 3),
                       expected_output_shape=(2, 4, 4, 5))),
    ],
    layers.MinibatchStdDev: [
        ("two_features", dict(init_kwargs=dict(group_size=2, num_features=2),
                              input_data=normal(4, 3, 3, 4), expected_output_shape=(4, 3, 3, 6))),
    ],
    layers.TokenMinibatchStdDev: [
        ("groups_of_two", dict(init_kwargs=dict(group_size=2), input_data=normal(4, 5, 6),
                               expected_output_shape=(4, 1))),
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
}


def build_case_model(cls, kwargs):
    """A functional model around a fresh `cls` layer of one case, and its inputs."""
    init = kwargs["init_kwargs"]
    layer = cls(**(init() if callable(init) else init))
    data = kwargs["input_data"]
    arrays = list(data) if isinstance(data, (list, tuple)) else [data]
    inputs = [keras.Input(a.shape[1:], dtype=a.dtype.name) for a in arrays]
    outputs = layer(*inputs, **kwargs.get("call_kwargs", {}))
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs), arrays


def all_cases():
    """[(name, class, kwargs)] of every case, named `Class_case`."""
    return [(f"{cls.__name__}_{case}", cls, kwargs)
            for cls, cases in LAYER_CASES.items() for case, kwargs in cases]
