"""Style path of the generator: mapping network and self-modulated LayerNorm."""

import math

import keras
from keras import ops

from vitgan_tf.layers.normalization import standardize
from vitgan_tf.layers.utils import check_positive_int, clone_initializer


@keras.saving.register_keras_serializable(package="vitgan_tf")
class EqualizedDense(keras.layers.Layer):
    """Dense layer with StyleGAN's equalized learning rate.

    The kernel is stored as N(0, 1 / lr_multiplier) and scaled at run time
    by `lr_multiplier / sqrt(fan_in)`, so Adam's effective step on the
    layer's function is `lr * lr_multiplier`.

    Args:
        units: int. Output size.
        lr_multiplier: float, default 1.0.
        bias_init: float, default 0.0. Constant initial bias.
        activation: activation name or callable, default None.

    Reference:
        Karras et al., "Progressive Growing of GANs", arXiv 1710.10196, 4.1.
    """

    def __init__(self, units, lr_multiplier=1.0, bias_init=0.0, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        if lr_multiplier <= 0:
            raise ValueError(
                f"Expected `lr_multiplier` > 0. Received: lr_multiplier={lr_multiplier}"
            )
        self.lr_multiplier = float(lr_multiplier)
        self.bias_init = float(bias_init)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        fan_in = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(fan_in, self.units),
            initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier),
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.units,),
            initializer=keras.initializers.Constant(self.bias_init / self.lr_multiplier),
            name="bias",
        )
        self._weight_gain = self.lr_multiplier / math.sqrt(fan_in)

    def call(self, inputs):
        outputs = ops.matmul(inputs, self.kernel * self._weight_gain)
        outputs = outputs + self.bias * self.lr_multiplier
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "lr_multiplier": self.lr_multiplier,
                "bias_init": self.bias_init,
                "activation": keras.activations.serialize(self.activation),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="vitgan_tf")
class MappingNetwork(keras.layers.Layer):
    """StyleGAN mapping network z -> w: pixel norm, then an MLP.

    Args:
        num_layers: int, default 8. Number of dense layers.
        units: int. Width of every layer and size of w.
        lr_multiplier: float, default 0.01. Equalized-lr multiplier.
        normalize_input: bool, default True. Pixel-normalise z first.

    Reference:
        Karras et al., "A Style-Based Generator Architecture for GANs",
        arXiv 1812.04948.
    """

    def __init__(self, units, num_layers=8, lr_multiplier=0.01, normalize_input=True, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.lr_multiplier = float(lr_multiplier)
        self.normalize_input = bool(normalize_input)

    def build(self, input_shape):
        self.dense_layers = []
        shape = tuple(input_shape)
        for i in range(self.num_layers):
            dense = EqualizedDense(
                self.units,
                lr_multiplier=self.lr_multiplier,
                activation="leaky_relu",
                dtype=self.dtype_policy,
                name=f"dense_{i}",
            )
            dense.build(shape)
            shape = shape[:-1] + (self.units,)
            self.dense_layers.append(dense)

    def call(self, inputs):
        x = inputs
        if self.normalize_input:
            x = x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + 1e-8)
        for dense in self.dense_layers:
            x = dense(x)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "num_layers": self.num_layers,
                "lr_multiplier": self.lr_multiplier,
                "normalize_input": self.normalize_input,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="vitgan_tf")
class SelfModulatedLayerNorm(keras.layers.Layer):
    """Self-modulated LayerNorm: `LN(h) * (1 + gamma(w)) + beta(w)`.

    `LN` normalises over the last axis without its own affine parameters;
    `gamma` and `beta` are dense maps of the style vector w, separate per
    layer norm, so a layer whose modulation outputs 0 is a plain LayerNorm.

    Args:
        epsilon: float, default 1e-3 (the PyTorch ViTGAN reproduction's).
        kernel_initializer: initializer of the gamma / beta maps, default
            `"glorot_uniform"`.

    Call arguments:
        inputs: `[batch, tokens, features]`.
        style: `[batch, style_dim]`.

    Reference:
        Lee et al., ViTGAN, eq. (8).
    """

    def __init__(self, epsilon=1e-3, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if epsilon <= 0:
            raise ValueError(f"Expected `epsilon` > 0. Received: epsilon={epsilon}")
        self.epsilon = float(epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, inputs_shape, style_shape):
        input_shape = inputs_shape
        features = input_shape[-1]
        self.gamma_dense = keras.layers.Dense(
            features,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="gamma",
        )
        self.gamma_dense.build(style_shape)
        self.beta_dense = keras.layers.Dense(
            features,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="beta",
        )
        self.beta_dense.build(style_shape)

    def call(self, inputs, style):
        normed = ops.cast(standardize(ops.cast(inputs, "float32"), -1, self.epsilon), inputs.dtype)
        gamma = self.gamma_dense(style)[:, None, :]
        beta = self.beta_dense(style)[:, None, :]
        return normed * (1.0 + gamma) + beta

    def compute_output_shape(self, inputs_shape, style_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "epsilon": self.epsilon,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="vitgan_tf")
class StyleTruncation(keras.layers.Layer):
    """The running mean of the style w (StyleGAN's `w_avg`) and the truncation trick.

    Called in training mode on a batch of styles, it updates the
    non-trainable `w_avg` (float32, `[units]`, zeros at first) as StyleGAN2
    does: `w_avg <- mean_b(w) + beta * (w_avg - mean_b(w))`, and returns w
    unchanged (it always returns w unchanged from `call`). `truncate(w, psi)`
    moves styles towards the mean: `w_avg + psi * (w - w_avg)`; psi = 1 gives
    w exactly, psi = 0 gives `w_avg` for every w.

    Args:
        beta: float in [0, 1), default 0.995 (StyleGAN2's `w_avg_beta`).

    Reference:
        Karras et al., "A Style-Based Generator Architecture for GANs",
        arXiv 1812.04948, appendix B (the truncation trick in W).
    """

    def __init__(self, beta=0.995, **kwargs):
        super().__init__(**kwargs)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0.0 <= beta < 1.0:
            raise ValueError(f"Expected `beta` in [0, 1). Received: beta={beta!r}")
        self.beta = float(beta)

    def build(self, input_shape):
        self.w_avg = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=False,
                                     name="w_avg", dtype="float32", aggregation="mean")

    def call(self, inputs, training=False):
        if training:
            batch_mean = ops.mean(ops.cast(inputs, "float32"), axis=0)
            self.w_avg.assign(batch_mean + self.beta * (self.w_avg - batch_mean))
        return inputs

    def truncate(self, inputs, psi):
        """`w_avg + psi * (w - w_avg)` (w itself where psi is 1); psi a float or a scalar tensor."""
        w_avg = ops.cast(self.w_avg, inputs.dtype)
        psi = ops.cast(psi, inputs.dtype)
        return ops.where(ops.equal(psi, 1.0), inputs, w_avg + psi * (inputs - w_avg))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"beta": self.beta})
        return config
