"""Multi-head self-attention: L2-distance (tied W_q = W_k) and dot-product."""

import math

import keras
from keras import ops

from vitgan_tf.layers.spectral_norm import check_equalized_lr
from vitgan_tf.layers.spectral_norm import check_spectral_norm
from vitgan_tf.layers.spectral_norm import maybe_spectral_norm
from vitgan_tf.layers.utils import check_positive_int, clone_initializer

class _SelfAttention(keras.layers.Layer):
    """Shared projections, head split and output of the two attention layers."""

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        output_dim=None,
        use_bias=True,
        spectral_norm=None,
        kernel_initializer="glorot_uniform",
        equalized_lr=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.key_dim = check_positive_int("key_dim", key_dim)
        self.value_dim = int(value_dim) if value_dim else None
        self.output_dim = int(output_dim) if output_dim else None
        self.use_bias = use_bias
        self.spectral_norm = check_spectral_norm(spectral_norm)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.equalized_lr = check_equalized_lr(equalized_lr, self.spectral_norm)

    def _dense(self, units, name, initializer=None, gain=1.0):
        dense = keras.layers.Dense(
            units,
            use_bias=self.use_bias,
            kernel_initializer=clone_initializer(initializer or self.kernel_initializer),
            dtype=self.dtype_policy,
            name=name,
        )
        return maybe_spectral_norm(dense, self.spectral_norm, self.equalized_lr, gain)

    def _split_heads(self, x, head_dim):
        # [B, T, H * d] -> [B, H, T, d]
        batch, tokens = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, tokens, self.num_heads, head_dim))
        return ops.transpose(x, (0, 2, 1, 3))

    def _attend(self, logits, value, training):
        # logits [B, H, T, T], value [B, H, T, dv] -> ([B, T, H * dv], probs)
        probs = ops.softmax(ops.cast(logits, "float32"), axis=-1)
        probs = ops.cast(probs, value.dtype)
        context = ops.matmul(probs, value)
        context = ops.transpose(context, (0, 2, 1, 3))
        batch, tokens = ops.shape(context)[0], ops.shape(context)[1]
        context = ops.reshape(context, (batch, tokens, -1))
        return self.output_dense(context, training=training), probs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim or input_shape[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "output_dim": self.output_dim,
                "use_bias": self.use_bias,
                "spectral_norm": self.spectral_norm,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "equalized_lr": self.equalized_lr,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="vitgan_tf")
class L2MultiHeadAttention(_SelfAttention):
    """Self-attention with negated squared L2 distances and tied W_q = W_k.

    Per head h, with one shared query/key matrix W_qk:

        q = X W_qk,  v = X W_v
        logits_ij = -||q_i - q_j||^2 / sqrt(d_h)
        out = softmax_j(logits) v,  then an output projection.

    The distance is expanded as |q_i|^2 - 2 q_i.q_j + |q_j|^2: one matmul,
    no [T, T, d] difference tensor. The |q_i|^2 term is constant along j,
    and softmax is invariant to it (values and gradients, exactly), so it is
    not computed: the logits used are `(2 q_i.q_j - |q_j|^2) / sqrt(d_h)`,
    with the scale applied to q before the matmul. That leaves one
    element-wise pass over the `[B, H, T, T]` logits instead of five. The
    attention probabilities are those of the formula.
    This attention is Lipschitz (Kim et al.); dot-product attention is not.

    Initial temperature. Every token is at distance 0 from itself, so if the
    distances between tokens are large the softmax puts nearly all weight on
    the token itself. With glorot-initialised W_qk and unit-variance
    (LayerNorm'ed) inputs the mean logit gap is 2 * sqrt(d_h) (11 for
    d_h = 32): the class token attends 98% to itself, the discriminator's
    logit ignores the image, and ISN keeps that scale for the whole run.
    The default `query_key_initializer` therefore scales W_qk so each query
    coordinate has variance 1 / (2 sqrt(d_h)): the mean logit between two
    independent tokens is -1, as soft as dot-product attention at init.

    Args:
        num_heads: int. Number of attention heads.
        key_dim: int. Size of each head's query/key.
        value_dim: int, default None (`key_dim`). Size of each head's value.
        output_dim: int, default None (input feature size).
        use_bias: bool, default True. Biases in the projections.
        spectral_norm: None, `"isn"` or `"sn"`, default None. Wraps every
            projection in `ImprovedSpectralNormalization` (`"sn"`: plain
            spectral normalization, target norm 1).
        kernel_initializer: initializer of the value and output projections,
            default `"glorot_uniform"`.
        query_key_initializer: initializer of W_qk, default None:
            `VarianceScaling(1 / (2 sqrt(key_dim)), "fan_in", "uniform")`
            (see "Initial temperature").
        equalized_lr: bool, default False. Equalized learning rate for every
            projection (see `ImprovedSpectralNormalization`; needs a
            spectral norm): gain 1, and for W_qk the gain
            `(2 sqrt(key_dim))^-1/2` of the initial temperature above.

    Call arguments:
        inputs: `[batch, tokens, features]`.
        return_attention_scores: bool, default False. Also return the
            attention probabilities `[batch, heads, tokens, tokens]`.
        training: bool. Updates the spectral-norm power iteration.

    Example:

    >>> attn = L2MultiHeadAttention(num_heads=4, key_dim=16)
    >>> y = attn(np.zeros((2, 10, 64), "float32"))  # [2, 10, 64]

    Reference:
        Kim, Papamakarios and Mnih, "The Lipschitz Constant of
        Self-Attention", arXiv 2006.04710; Lee et al., ViTGAN, eq. (5).
    """

    def __init__(self, num_heads, key_dim, query_key_initializer=None, **kwargs):
        super().__init__(num_heads, key_dim, **kwargs)
        self.query_key_initializer = (
            None if query_key_initializer is None else keras.initializers.get(query_key_initializer)
        )

    def build(self, input_shape):
        features = input_shape[-1]
        value_dim = self.value_dim or self.key_dim
        query_key_initializer = self.query_key_initializer or keras.initializers.VarianceScaling(
            scale=1.0 / (2.0 * math.sqrt(self.key_dim)), mode="fan_in", distribution="uniform"
        )
        # Under an equalized learning rate W_qk keeps the initial temperature.
        temperature_gain = (2.0 * math.sqrt(self.key_dim)) ** -0.5
        self.query_key_dense = self._dense(
            self.num_heads * self.key_dim, "query_key", query_key_initializer, temperature_gain
        )
        self.query_key_dense.build(input_shape)
        self.value_dense = self._dense(self.num_heads * value_dim, "value")
        self.value_dense.build(input_shape)
        self.output_dense = self._dense(self.output_dim or features, "output")
        self.output_dense.build(tuple(input_shape[:-1]) + (self.num_heads * value_dim,))
        self.built = True

    def call(self, inputs, return_attention_scores=False, training=False):
        value_dim = self.value_dim or self.key_dim
        query = self._split_heads(
            self.query_key_dense(inputs, training=training), self.key_dim
        )  # [B, H, T, d]; the key is the same tensor (W_q = W_k)
        value = self._split_heads(self.value_dense(inputs, training=training), value_dim)
        scale = 1.0 / math.sqrt(self.key_dim)
        key_sq_norm = ops.sum(ops.square(query), axis=-1) * scale  # [B, H, T]
        # -|q_i - q_j|^2 / sqrt(d) up to -|q_i|^2 / sqrt(d), constant along j (see above).
        logits = ops.matmul(query * (2.0 * scale), ops.transpose(query, (0, 1, 3, 2)))
        logits = logits - key_sq_norm[..., None, :]
        output, probs = self._attend(logits, value, training)
        if return_attention_scores:
            return output, probs
        return output

    def get_config(self):
        config = super().get_config()
        config["query_key_initializer"] = (
            None
            if self.query_key_initializer is None
            else keras.initializers.serialize(self.query_key_initializer)
        )
        return config


@keras.saving.register_keras_serializable(package="vitgan_tf")
class DotProductMultiHeadAttention(_SelfAttention):
    """Standard scaled dot-product self-attention with a fused QKV projection.

    `logits_ij = q_i . k_j / sqrt(d_h)` with separate W_q, W_k. Used by the
    generator, and by the discriminator in the "naive ViT" ablation.

    Args: as `L2MultiHeadAttention`.

    Reference:
        Vaswani et al., "Attention Is All You Need", arXiv 1706.03762.
    """

    def build(self, input_shape):
        features = input_shape[-1]
        value_dim = self.value_dim or self.key_dim
        self.qkv_dense = self._dense(
            self.num_heads * (2 * self.key_dim + value_dim), "query_key_value"
        )
        self.qkv_dense.build(input_shape)
        self.output_dense = self._dense(self.output_dim or features, "output")
        self.output_dense.build(tuple(input_shape[:-1]) + (self.num_heads * value_dim,))
        self.built = True

    def call(self, inputs, return_attention_scores=False, training=False):
        value_dim = self.value_dim or self.key_dim
        qk_size = self.num_heads * self.key_dim
        qkv = self.qkv_dense(inputs, training=training)
        # One split, not three slices: a slice's gradient is a zero tensor of qkv's size.
        query, key, value = ops.split(qkv, [qk_size, 2 * qk_size], axis=-1)
        query = self._split_heads(query, self.key_dim)
        key = self._split_heads(key, self.key_dim)
        value = self._split_heads(value, value_dim)
        # The 1 / sqrt(d) scale on q [B, H, T, d], not on the logits [B, H, T, T].
        logits = ops.matmul(query * (1.0 / math.sqrt(self.key_dim)), ops.transpose(key, (0, 1, 3, 2)))
        output, probs = self._attend(logits, value, training)
        if return_attention_scores:
            return output, probs
        return output
