"""Transformer blocks of the ViTGAN generator and discriminator."""

import keras

from vitgan_tf.layers.activations import gelu
from vitgan_tf.layers.attention import DotProductMultiHeadAttention, L2MultiHeadAttention
from vitgan_tf.layers.modulation import SelfModulatedLayerNorm
from vitgan_tf.layers.normalization import ExactLayerNormalization
from vitgan_tf.layers.spectral_norm import check_equalized_lr, check_spectral_norm, maybe_spectral_norm
from vitgan_tf.layers.utils import check_choice, check_positive_int

ATTENTION_TYPES = {"l2": L2MultiHeadAttention, "dot": DotProductMultiHeadAttention}


def _check_heads(hidden_dim, num_heads):
    if hidden_dim % num_heads:
        raise ValueError(
            f"`hidden_dim` must be divisible by `num_heads`. Received: "
            f"hidden_dim={hidden_dim}, num_heads={num_heads}"
        )


@keras.saving.register_keras_serializable(package="vitgan_tf")
class GeneratorBlock(keras.layers.Layer):
    """Generator block: `h' = h + MSA(SLN(h, w)); h = h' + MLP(SLN(h', w))`.

    Args:
        num_heads: int. Attention heads (dot-product attention).
        mlp_dim: int. Hidden size of the GELU MLP.
        epsilon: float, default 1e-3. SLN epsilon.

    Call arguments:
        inputs: `[batch, tokens, hidden]`.
        style: `[batch, style_dim]`.

    Reference:
        Lee et al., ViTGAN eq. (7).
    """

    def __init__(self, num_heads, mlp_dim, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.mlp_dim = check_positive_int("mlp_dim", mlp_dim)
        self.epsilon = float(epsilon)

    def build(self, inputs_shape, style_shape):
        input_shape = inputs_shape
        hidden = input_shape[-1]
        _check_heads(hidden, self.num_heads)
        policy = self.dtype_policy
        self.norm1 = SelfModulatedLayerNorm(self.epsilon, dtype=policy, name="sln_1")
        self.norm1.build(input_shape, style_shape)
        self.attention = DotProductMultiHeadAttention(
            self.num_heads, hidden // self.num_heads, dtype=policy, name="attention"
        )
        self.attention.build(input_shape)
        self.norm2 = SelfModulatedLayerNorm(self.epsilon, dtype=policy, name="sln_2")
        self.norm2.build(input_shape, style_shape)
        self.mlp_in = keras.layers.Dense(
            self.mlp_dim, activation=gelu, dtype=policy, name="mlp_in"
        )
        self.mlp_in.build(input_shape)
        self.mlp_out = keras.layers.Dense(hidden, dtype=policy, name="mlp_out")
        self.mlp_out.build(tuple(input_shape[:-1]) + (self.mlp_dim,))

    def call(self, inputs, style):
        x = inputs + self.attention(self.norm1(inputs, style))
        return x + self.mlp_out(self.mlp_in(self.norm2(x, style)))

    def compute_output_shape(self, inputs_shape, style_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"num_heads": self.num_heads, "mlp_dim": self.mlp_dim, "epsilon": self.epsilon}
        )
        return config


@keras.saving.register_keras_serializable(package="vitgan_tf")
class DiscriminatorBlock(keras.layers.Layer):
    """Discriminator block: `h' = h + MSA(LN(h)); h = h' + MLP(LN(h'))`.

    Every linear projection (attention and MLP) is spectrally normalised.

    Args:
        num_heads: int. Attention heads.
        mlp_dim: int. Hidden size of the GELU MLP.
        attention: `"l2"` (default: L2 distance, tied W_q = W_k) or `"dot"`
            (the naive ViT discriminator, for ablations).
        spectral_norm: `"isn"` (default), `"sn"` or None.
        epsilon: float, default 1e-6. LayerNorm epsilon.
        equalized_lr: bool, default False. Equalized learning rate of every
            projection (see `ImprovedSpectralNormalization`).

    Call arguments:
        inputs: `[batch, tokens, hidden]`.
        training: bool. Updates the spectral-norm power iterations.

    Reference:
        Lee et al., ViTGAN section 4.1.
    """

    def __init__(
        self, num_heads, mlp_dim, attention="l2", spectral_norm="isn", epsilon=1e-6,
        equalized_lr=False, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.mlp_dim = check_positive_int("mlp_dim", mlp_dim)
        self.attention_type = check_choice("attention", attention, ATTENTION_TYPES)
        self.spectral_norm = check_spectral_norm(spectral_norm)
        self.epsilon = float(epsilon)
        self.equalized_lr = check_equalized_lr(equalized_lr, self.spectral_norm)

    def build(self, input_shape):
        hidden = input_shape[-1]
        _check_heads(hidden, self.num_heads)
        policy = self.dtype_policy
        self.norm1 = ExactLayerNormalization(
            epsilon=self.epsilon, dtype=policy, name="norm_1"
        )
        self.norm1.build(input_shape)
        self.attention = ATTENTION_TYPES[self.attention_type](
            self.num_heads,
            hidden // self.num_heads,
            spectral_norm=self.spectral_norm,
            equalized_lr=self.equalized_lr,
            dtype=policy,
            name="attention",
        )
        self.attention.build(input_shape)
        self.norm2 = ExactLayerNormalization(
            epsilon=self.epsilon, dtype=policy, name="norm_2"
        )
        self.norm2.build(input_shape)
        self.mlp_in = maybe_spectral_norm(
            keras.layers.Dense(self.mlp_dim, activation=gelu, dtype=policy, name="mlp_in"),
            self.spectral_norm,
            self.equalized_lr,
        )
        self.mlp_in.build(input_shape)
        self.mlp_out = maybe_spectral_norm(
            keras.layers.Dense(hidden, dtype=policy, name="mlp_out"), self.spectral_norm,
            self.equalized_lr,
        )
        self.mlp_out.build(tuple(input_shape[:-1]) + (self.mlp_dim,))

    def call(self, inputs, training=False):
        x = inputs + self.attention(self.norm1(inputs), training=training)
        y = self.mlp_in(self.norm2(x), training=training)
        return x + self.mlp_out(y, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "mlp_dim": self.mlp_dim,
                "attention": self.attention_type,
                "spectral_norm": self.spectral_norm,
                "epsilon": self.epsilon,
                "equalized_lr": self.equalized_lr,
            }
        )
        return config
