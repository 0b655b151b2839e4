"""Fourier features and the implicit (per-pixel) patch decoder of the generator."""

import math

import keras
import numpy as np
from keras import ops

from vitgan_tf.layers.utils import check_choice, check_positive_int

DECODER_ACTIVATIONS = ("leaky_relu", "sin")


def coordinate_grid(size):
    """Pixel-centre coordinates of a `size x size` grid in [-1, 1], row-major.

    Returns a float32 numpy array `[size * size, 2]` of (x, y) pairs; the
    row index is y. A 1x1 grid sits at (0, 0).
    """
    axis = np.linspace(-1.0, 1.0, size, dtype="float32") if size > 1 else np.zeros(1, "float32")
    y, x = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([x.ravel(), y.ravel()], axis=-1)


@keras.saving.register_keras_serializable(package="vitgan_tf")
class FourierFeatures(keras.layers.Layer):
    """Learned Fourier features of coordinates: `sin(coords @ W + b)`.

    Args:
        units: int. Number of features.
        scale: float, default pi. Standard deviation of the initial
            frequencies W (coordinates live in [-1, 1]).

    Call arguments:
        inputs: `[..., coord_dims]` coordinates.

    Reference:
        Tancik et al., "Fourier Features Let Networks Learn High Frequency
        Functions", arXiv 2006.10739; ViTGAN eq. (9).
    """

    def __init__(self, units, scale=math.pi, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        if scale <= 0:
            raise ValueError(f"Expected `scale` > 0. Received: scale={scale}")
        self.scale = float(scale)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer=keras.initializers.RandomNormal(stddev=self.scale),
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.units,),
            initializer=keras.initializers.RandomUniform(-math.pi, math.pi),
            name="bias",
        )

    def call(self, inputs):
        return ops.sin(ops.matmul(inputs, self.kernel) + self.bias)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "scale": self.scale})
        return config


@keras.saving.register_keras_serializable(package="vitgan_tf")
class PatchPositionEmbedding(keras.layers.Layer):
    """The generator's input sequence: Fourier features of patch positions.

    Returns `sin(Linear(pos))` for the `grid_size x grid_size` patch centres
    (row-major), the same for every sample: `[batch, grid_size**2, units]`.

    Args:
        grid_size: int. Patches per image side.
        units: int. Embedding size (the transformer's hidden size).
        scale: float, default pi. See `FourierFeatures`.

    Call arguments:
        inputs: any tensor whose first axis is the batch (e.g. the style w).
    """

    def __init__(self, grid_size, units, scale=math.pi, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = check_positive_int("grid_size", grid_size)
        self.units = check_positive_int("units", units)
        self.scale = float(scale)

    def build(self, input_shape):
        self.fourier = FourierFeatures(
            self.units, scale=self.scale, dtype=self.dtype_policy, name="fourier"
        )
        self.fourier.build((self.grid_size**2, 2))

    def call(self, inputs):
        grid = ops.convert_to_tensor(coordinate_grid(self.grid_size), self.compute_dtype)
        embedding = self.fourier(grid)  # [L, units]
        batch = ops.shape(inputs)[0]
        return ops.broadcast_to(embedding[None], (batch,) + tuple(embedding.shape))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.grid_size**2, self.units)

    def get_config(self):
        config = super().get_config()
        config.update({"grid_size": self.grid_size, "units": self.units, "scale": self.scale})
        return config


def tokens_to_image(patches, grid_size, patch_size):
    """Assembles per-token patches into images.

    Args:
        patches: `[batch, grid_size**2, patch_size**2, channels]`; token t is
            the patch at row `t // grid_size`, column `t % grid_size`, its
            pixels row-major.

    Returns:
        `[batch, grid_size * patch_size, grid_size * patch_size, channels]`.
    """
    channels = patches.shape[-1]
    batch = ops.shape(patches)[0]
    x = ops.reshape(patches, (batch, grid_size, grid_size, patch_size, patch_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    side = grid_size * patch_size
    return ops.reshape(x, (batch, side, side, channels))


@keras.saving.register_keras_serializable(package="vitgan_tf")
class ImplicitPatchDecoder(keras.layers.Layer):
    """Decodes each token into a P x P patch with a modulated implicit MLP.

    For every pixel of a patch, with coordinates (x, y) in [-1, 1] inside the
    patch, `E_fou = sin(Linear(x, y))` (learned Fourier features, shared by
    all patches) goes through a 2-layer MLP whose weights are modulated by
    the token y_i (StyleGAN2):

        h = act(demod(W1 * s1(y_i)) E_fou + b1)     # modulated + demodulated
        pixel = (W2 * s2(y_i)) h + b2               # modulated (a "toRGB")

    computed on activations: `((x * s) @ W) * rsqrt(s^2 @ W^2 + eps)`, the
    same maths as modulating the weights, without a per-token weight tensor.
    The patches are tiled row-major into the image.

    Activation choice: `"leaky_relu"` (default, as CIPS and the PyTorch
    ViTGAN reproduction) or `"sin"` (SIREN-like; demodulation keeps the
    pre-activations at unit scale, so no SIREN-specific initialisation is
    needed, `sin_omega` sets the frequency).

    Args:
        patch_size: int. Pixels per patch side.
        channels: int. Output channels.
        hidden_dim: int, default 64. Width of the implicit MLP.
        fourier_dim: int, default 64. Number of Fourier features.
        activation: `"leaky_relu"` or `"sin"`, default `"leaky_relu"`.
        sin_omega: float, default 1.0. Frequency of the `"sin"` activation.
        demodulate: bool, default True. Demodulate the first layer.

    Call arguments:
        inputs: tokens `[batch, grid_size**2, features]`, grid_size**2 a
            perfect square.

    Returns:
        Images `[batch, grid_size * patch_size, grid_size * patch_size, channels]`.

    Reference:
        Lee et al., ViTGAN section 4.2; Karras et al., StyleGAN2
        (arXiv 1912.04958) eq. (1)-(3); Anokhin et al., CIPS (arXiv 2011.13775).
    """

    def __init__(
        self,
        patch_size,
        channels,
        hidden_dim=64,
        fourier_dim=64,
        activation="leaky_relu",
        sin_omega=1.0,
        demodulate=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.patch_size = check_positive_int("patch_size", patch_size)
        self.channels = check_positive_int("channels", channels)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.fourier_dim = check_positive_int("fourier_dim", fourier_dim)
        self.activation = check_choice("activation", activation, DECODER_ACTIVATIONS)
        self.sin_omega = float(sin_omega)
        self.demodulate = bool(demodulate)

    def build(self, input_shape):
        tokens = input_shape[-2]
        grid_size = int(round(math.sqrt(tokens)))
        if grid_size * grid_size != tokens:
            raise ValueError(
                "Expected a square number of tokens. "
                f"Received: tokens={tokens} (input_shape={input_shape})"
            )
        self.grid_size = grid_size
        self.fourier = FourierFeatures(
            self.fourier_dim, dtype=self.dtype_policy, name="fourier"
        )
        self.fourier.build((self.patch_size**2, 2))
        # Styles start at 1 (StyleGAN2's affine bias init).
        self.style1 = keras.layers.Dense(
            self.fourier_dim, bias_initializer="ones", dtype=self.dtype_policy, name="style1"
        )
        self.style1.build(input_shape)
        self.style2 = keras.layers.Dense(
            self.hidden_dim, bias_initializer="ones", dtype=self.dtype_policy, name="style2"
        )
        self.style2.build(input_shape)
        self.kernel1 = self.add_weight(
            shape=(self.fourier_dim, self.hidden_dim),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="kernel1",
        )
        self.bias1 = self.add_weight(shape=(self.hidden_dim,), initializer="zeros", name="bias1")
        self.kernel2 = self.add_weight(
            shape=(self.hidden_dim, self.channels),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="kernel2",
        )
        self.bias2 = self.add_weight(shape=(self.channels,), initializer="zeros", name="bias2")

    def call(self, inputs):
        grid = ops.convert_to_tensor(coordinate_grid(self.patch_size), self.compute_dtype)
        fourier = self.fourier(grid)  # [P*P, F], the same for every patch
        s1 = self.style1(inputs)[:, :, None, :]  # [B, T, 1, F]
        x = ops.matmul(fourier[None, None] * s1, self.kernel1)  # [B, T, P*P, hidden]
        # toRGB: modulated by s2, not demodulated; 1/sqrt(fan_in) keeps unit scale.
        scale = self.style2(inputs)[:, :, None, :] * (1.0 / math.sqrt(self.hidden_dim))
        bias1 = self.bias1
        if self.demodulate:
            demod = ops.rsqrt(ops.matmul(ops.square(s1), ops.square(self.kernel1)) + 1e-8)
            if self.activation == "sin":
                x = x * demod
            else:
                # leaky_relu(x * d + b) = d * leaky_relu(x + b / d) for d > 0: d moves
                # into toRGB's per-token [hidden, C] weights, saving a pass over x.
                bias1 = bias1 / demod
                scale = scale * demod
        x = x + bias1
        if self.activation == "sin":
            x = ops.sin(self.sin_omega * x)
        else:
            x = ops.leaky_relu(x, negative_slope=0.2)
        # Per-token modulated toRGB weights [B, T, hidden, C] (small: C outputs).
        kernel2 = ops.swapaxes(scale, -1, -2) * self.kernel2
        x = ops.matmul(x, kernel2) + self.bias2  # [B, T, P*P, C]
        return tokens_to_image(x, self.grid_size, self.patch_size)

    def compute_output_shape(self, input_shape):
        tokens = input_shape[-2]
        side = int(round(math.sqrt(tokens))) * self.patch_size
        return (input_shape[0], side, side, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "patch_size": self.patch_size,
                "channels": self.channels,
                "hidden_dim": self.hidden_dim,
                "fourier_dim": self.fourier_dim,
                "activation": self.activation,
                "sin_omega": self.sin_omega,
                "demodulate": self.demodulate,
            }
        )
        return config
