"""The StyleGAN2 residual discriminator of the ViTGAN authors' released code."""

import math

import keras

from vitgan_tf.layers.modulation import EqualizedDense
from vitgan_tf.layers.stylegan2 import EqualizedConv2D
from vitgan_tf.layers.stylegan2 import MinibatchStdDev
from vitgan_tf.layers.stylegan2 import StyleGAN2ResidualBlock
from vitgan_tf.layers.stylegan2 import scaled_leaky_relu
from vitgan_tf.layers.utils import check_positive_int
from vitgan_tf.models import presets

# Channels per resolution. 32x32: `small32=True` of mlpc-ucsd/ViTGAN's
# models/gan/stylegan2/discriminator.py (what its `vitgan` architecture builds);
# larger sizes: StyleGAN2's table at channel_multiplier 2 (the same file without
# `small32`; 64x64 -> 512).
CHANNELS_32 = {32: 128, 16: 256, 8: 512, 4: 512}
CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128}


def channel_widths(image_size, width_multiplier=1.0):
    """{resolution: channels} from `image_size` down to 4, scaled by `width_multiplier`."""
    table = CHANNELS_32 if image_size == 32 else CHANNELS
    sizes = [image_size // 2 ** i for i in range(int(math.log2(image_size)) - 1)]
    return {s: max(1, int(round(table[s] * width_multiplier))) for s in sizes}


@keras.saving.register_keras_serializable(package="vitgan_tf")
class StyleGAN2Discriminator(presets.PresetModel):
    """StyleGAN2 residual discriminator (the authors' pairing for the ViT generator).

    FromRGB (1x1 conv, bias, leaky ReLU) at `image_size` -> one
    `StyleGAN2ResidualBlock` per halving down to 4x4 -> minibatch standard
    deviation (group 4, 1 feature) -> 3x3 conv -> flatten -> equalized dense
    (as wide as the 4x4 channels) with leaky ReLU -> equalized dense to one
    float32 logit, `[batch, 1]`. Every convolution and dense layer has
    equalized learning rate (N(0, 1) weights scaled by 1 / sqrt(fan_in) at run
    time); biases and leaky ReLU 0.2 come with gain sqrt(2). Inputs are NHWC
    in [-1, 1] (the authors' code maps its [0, 1] images there first).

    Channels per resolution (`channel_widths`): for 32x32 the authors'
    `small32` table (128, 256, 512, 512 at 32, 16, 8, 4), otherwise
    StyleGAN2's with channel multiplier 2 (512 up to 64x64), each times
    `width_multiplier` (rounded, at least 1) for small CPU models.

    Args:
        image_size: int, a power of 2 >= 8. Input height = width.
        channels: int. Input channels.
        width_multiplier: float > 0, default 1.0.
        mbstd_group_size: int, default 4. The minibatch-stddev group; a batch
            must be a multiple of `min(group, batch)`.

    Example:

    >>> disc = StyleGAN2Discriminator(image_size=32, channels=3, width_multiplier=0.25)
    >>> logits = disc(np.zeros((4, 32, 32, 3), "float32"))  # [4, 1]

    Reference:
        Karras et al., StyleGAN2, arXiv 1912.04958 (residual D, config E/F);
        Lee et al., ViTGAN, arXiv 2107.04589, and mlpc-ucsd/ViTGAN
        (`ResidualDiscriminatorP`, `small32=True`, `mlp_linear=True`).
    """

    CONFIG_KEYS = ("image_size", "channels", "width_multiplier", "mbstd_group_size")

    def __init__(self, image_size, channels, width_multiplier=1.0, mbstd_group_size=4, **kwargs):
        check_positive_int("image_size", image_size)
        check_positive_int("channels", channels)
        if image_size < 8 or image_size & (image_size - 1) or image_size > 256:
            raise ValueError(f"Expected `image_size` a power of 2 in [8, 256]. "
                             f"Received: image_size={image_size}")
        if isinstance(width_multiplier, bool) or not (
                isinstance(width_multiplier, (int, float)) and 0 < width_multiplier <= 16):
            raise ValueError(f"Expected `width_multiplier` in (0, 16]. "
                             f"Received: width_multiplier={width_multiplier!r}")
        check_positive_int("mbstd_group_size", mbstd_group_size)
        widths = channel_widths(image_size, width_multiplier)

        # === Functional model ===
        images = keras.Input((image_size, image_size, channels), name="images")
        x = EqualizedConv2D(widths[image_size], 1, name="from_rgb")(images)
        size = image_size
        while size > 4:
            x = StyleGAN2ResidualBlock(widths[size // 2], name=f"block_{size}")(x)
            size //= 2
        x = MinibatchStdDev(mbstd_group_size, 1, name="minibatch_stddev")(x)
        x = EqualizedConv2D(widths[4], 3, name="last_conv")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        x = EqualizedDense(widths[4], activation=scaled_leaky_relu, name="dense")(x)
        # The logit in float32 under mixed precision (float64 stays float64).
        wide = keras.config.dtype_policy().compute_dtype == "float64"
        logits = EqualizedDense(1, dtype="float64" if wide else "float32", name="logit")(x)
        super().__init__(inputs=images, outputs=logits, **kwargs)

        # === Config ===
        self.image_size = image_size
        self.channels = channels
        self.width_multiplier = width_multiplier
        self.mbstd_group_size = mbstd_group_size
