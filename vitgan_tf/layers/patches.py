"""The discriminator's input: overlapping patches, class token, positions."""

import keras
from keras import ops

from vitgan_tf.layers.spectral_norm import check_equalized_lr, check_spectral_norm, maybe_spectral_norm
from vitgan_tf.layers.utils import check_positive_int, clone_initializer
from vitgan_tf.layers import initializers  # noqa: F401  (registers WindowGlorotUniform)


@keras.saving.register_keras_serializable(package="vitgan_tf")
class OverlappingPatchEmbedding(keras.layers.Layer):
    """Linear projection of overlapping (2P) x (2P) windows at stride P.

    Each P x P patch is extended by o = P / 2 pixels on every side (zero
    padding at the borders), flattened and projected: exactly a
    `(2P) x (2P)` convolution at stride P over the zero-padded image, which
    is how it is computed. An H x W image gives (H / P) * (W / P) tokens,
    row-major.

    Args:
        patch_size: int, even. P.
        hidden_dim: int. Token size.
        spectral_norm: None, `"isn"` or `"sn"`, default None. Wraps the
            projection (see `ImprovedSpectralNormalization`).
        equalized_lr: bool, default False. Equalized learning rate of the
            projection (needs a spectral norm; sigma(W_init) about 2.4 for
            P = 4, C = 1, 128 wide, instead of glorot's 0.3, whose fan-out
            counts the window area).
        kernel_initializer: initializer of the projection, default
            `"glorot_uniform"` (Conv2D's: its fan-out counts the window area,
            sigma(W_init) about 0.3 for P = 4, C = 1, 128 wide);
            `"vitgan_tf>WindowGlorotUniform"` initialises it as the linear map
            of flattened windows that it is (sigma about 2).

    Call arguments:
        inputs: images `[batch, H, W, C]`, H and W multiples of P.

    Returns:
        `[batch, (H / P) * (W / P), hidden_dim]`.

    Reference:
        Lee et al., ViTGAN section 4.1 ("Overlapping image patches").
    """

    def __init__(self, patch_size, hidden_dim, spectral_norm=None, equalized_lr=False,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.patch_size = check_positive_int("patch_size", patch_size)
        if self.patch_size % 2:
            raise ValueError(
                "Expected an even `patch_size` (windows extend P/2 pixels per side). "
                f"Received: patch_size={patch_size}"
            )
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.spectral_norm = check_spectral_norm(spectral_norm)
        self.equalized_lr = check_equalized_lr(equalized_lr, self.spectral_norm)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"Expected images of rank 4 [batch, H, W, C]. Received: input_shape={input_shape}"
            )
        height, width = input_shape[1], input_shape[2]
        for side in (height, width):
            if side is not None and side % self.patch_size:
                raise ValueError(
                    f"Image size {height}x{width} is not divisible by "
                    f"patch_size={self.patch_size}."
                )
        pad = self.patch_size // 2
        self.projection = maybe_spectral_norm(
            keras.layers.Conv2D(
                self.hidden_dim,
                kernel_size=2 * self.patch_size,
                strides=self.patch_size,
                padding="valid",
                kernel_initializer=clone_initializer(self.kernel_initializer),
                dtype=self.dtype_policy,
                name="projection",
            ),
            self.spectral_norm,
            self.equalized_lr,
        )
        padded = (input_shape[0], height + 2 * pad, width + 2 * pad, input_shape[3])
        self.projection.build(padded)

    def call(self, inputs, training=False):
        pad = self.patch_size // 2
        x = ops.pad(inputs, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
        x = self.projection(x, training=training)  # [B, H/P, W/P, D]
        batch, rows, cols = ops.shape(x)[0], x.shape[1], x.shape[2]
        return ops.reshape(x, (batch, rows * cols, self.hidden_dim))

    def compute_output_shape(self, input_shape):
        tokens = (input_shape[1] // self.patch_size) * (input_shape[2] // self.patch_size)
        return (input_shape[0], tokens, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "patch_size": self.patch_size,
                "hidden_dim": self.hidden_dim,
                "spectral_norm": self.spectral_norm,
                "equalized_lr": self.equalized_lr,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="vitgan_tf")
class ClassTokenPositionEmbedding(keras.layers.Layer):
    """Prepends a learned class token and adds learned position embeddings.

    Call arguments:
        inputs: `[batch, tokens, features]`.

    Returns:
        `[batch, tokens + 1, features]`, the class token first.

    Reference:
        Dosovitskiy et al., "An Image is Worth 16x16 Words", arXiv 2010.11929.
    """

    def build(self, input_shape):
        tokens, features = input_shape[-2], input_shape[-1]
        self.class_token = self.add_weight(
            shape=(1, 1, features), initializer="zeros", name="class_token"
        )
        self.position_embedding = self.add_weight(
            shape=(1, tokens + 1, features),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="position_embedding",
        )

    def call(self, inputs):
        batch = ops.shape(inputs)[0]
        cls = ops.broadcast_to(
            ops.cast(self.class_token, inputs.dtype), (batch, 1, inputs.shape[-1])
        )
        x = ops.concatenate([cls, inputs], axis=1)
        return x + ops.cast(self.position_embedding, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] + 1, input_shape[2])
