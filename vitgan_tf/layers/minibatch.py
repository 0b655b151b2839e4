"""Minibatch standard deviation of token features, for the ViT discriminator.

An option of `Discriminator` (`mbstd_group_size`), not part of the paper's D:
StyleGAN's minibatch-stddev feature (Karras et al. 2018, section 3), computed
on a ViT's tokens, so that D can see how much a group of its inputs varies.
docs/maths.md (section 1.2, "Optional: minibatch standard deviation").
"""

import keras
from keras import ops

from vitgan_tf.layers.utils import check_positive_int, minibatch_group


@keras.saving.register_keras_serializable(package="vitgan_tf")
class TokenMinibatchStdDev(keras.layers.Layer):
    """One feature per image: the standard deviation of its group's tokens.

    The batch `B` is cut into groups of `G = min(group_size, B)` CONSECUTIVE
    images (images `0..G-1`, then `G..2G-1`, ...); `B` must be a multiple of
    `G`. For each group, the standard deviation over its members (biased
    variance + 1e-8, square root) of every token's every channel is averaged
    over tokens and channels, and given to each member.

    Consecutive groups, unlike StyleGAN2's strided ones (`MinibatchStdDev`):
    `ViTGAN` runs D once on `[A(x), A(G(z)), T(A(x)), T(A(G(z)))]`, segments
    of the batch size each, so with a batch size divisible by `G` every group
    holds only real or only generated images, and the feature tells D how
    varied the generated ones are.

    Args:
        group_size: int, default 4.

    Call arguments:
        inputs: `[B, L, C]` tokens.

    Returns:
        `[B, 1]`, in the inputs' dtype (computed in float32 for half
        precision).
    """

    def __init__(self, group_size=4, **kwargs):
        super().__init__(**kwargs)
        self.group_size = check_positive_int("group_size", group_size)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"TokenMinibatchStdDev expects tokens [batch, length, channels]. "
                             f"Received shape: {tuple(input_shape)}")
        self.built = True

    def call(self, inputs):
        group, compute = minibatch_group(inputs, self.group_size, "TokenMinibatchStdDev")
        _, length, channels = inputs.shape
        x = ops.reshape(ops.cast(inputs, compute), (-1, group, length, channels))  # [M, G, L, C]
        x = x - ops.mean(x, axis=1, keepdims=True)
        std = ops.sqrt(ops.mean(ops.square(x), axis=1) + 1e-8)  # [M, L, C]
        std = ops.mean(std, axis=(1, 2))  # [M]
        std = ops.repeat(std, group, axis=0)  # [B]: member b of group b // G
        return ops.cast(ops.reshape(std, (-1, 1)), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config["group_size"] = self.group_size
        return config
