"""StyleGAN2 discriminator layers: blur-downsampling, equalized convolutions, minibatch stddev.

The convolutional discriminator that the ViTGAN authors pair with the ViT
generator in their released code (mlpc-ucsd/ViTGAN, which follows
rosinality/stylegan2-pytorch), written with `keras.ops` only, NHWC.
docs/maths.md ("The StyleGAN2 discriminator") has the formulas.
"""

import math

import keras
import numpy as np
from keras import ops

from vitgan_tf.layers.utils import check_positive_int, minibatch_group

LRELU_GAIN = math.sqrt(2.0)
DEFAULT_BLUR = (1, 3, 3, 1)


@keras.saving.register_keras_serializable(package="vitgan_tf")
def scaled_leaky_relu(x):
    """`leaky_relu(x, 0.2) * sqrt(2)`: StyleGAN2's activation with its gain.

    With the bias added just before it, this is StyleGAN2's "fused" bias and
    leaky ReLU (`FusedLeakyReLU`). Its derivative at exactly 0 is the negative
    slope's, `0.2 * sqrt(2)`, on every backend.

    Not `ops.leaky_relu`: its derivative at 0 is 0.2 on TensorFlow but 1 on
    JAX (`jnp.where(x >= 0, ...)`). Exact zeros are common in this D: the
    biases start at zero, and DiffAugment's translation pads and cutout fills
    with zeros, so whole regions reach the first activation at exactly 0 and
    the two backends' gradients (and R1) differed.
    """
    return ops.where(x > 0, x, x * 0.2) * LRELU_GAIN


def blur_kernel(taps=DEFAULT_BLUR):
    """The normalised 2-D FIR kernel `outer(taps, taps) / sum`, float32 `[k, k]`."""
    taps = np.asarray(taps, dtype="float64")
    if taps.ndim != 1 or taps.size < 2 or not np.all(np.isfinite(taps)) or taps.sum() <= 0:
        raise ValueError(f"Expected a 1-D blur kernel of >= 2 taps with a positive sum. "
                         f"Received: {tuple(taps.tolist())}")
    kernel = np.outer(taps, taps)
    return (kernel / kernel.sum()).astype("float32")


def _check_taps(blur):
    blur = tuple(float(t) for t in blur)
    blur_kernel(blur)  # checks
    return blur


@keras.saving.register_keras_serializable(package="vitgan_tf")
class Blur(keras.layers.Layer):
    """Zero padding `(pad0, pad1)` on each spatial side, then the FIR blur, per channel.

    `upfirdn2d(x, k, pad=(pad0, pad1))` of StyleGAN2 with up = down = 1:
    `[B, H, W, C] -> [B, H + pad0 + pad1 - k + 1, ..., C]`. The kernel is
    symmetric, so convolution and correlation agree.

    Args:
        pad: (int, int). Zeros before and after, on both axes.
        blur: 1-D taps, default (1, 3, 3, 1).
    """

    def __init__(self, pad, blur=DEFAULT_BLUR, **kwargs):
        super().__init__(**kwargs)
        pad = tuple(int(p) for p in pad)
        if len(pad) != 2 or min(pad) < 0:
            raise ValueError(f"Expected `pad` = (pad0, pad1) >= 0. Received: pad={pad}")
        self.pad = pad
        self.blur = _check_taps(blur)

    def build(self, input_shape):
        channels = input_shape[-1]
        kernel = blur_kernel(self.blur)
        self._kernel = np.tile(kernel[:, :, None, None], (1, 1, channels, 1))  # depthwise
        self.built = True

    def call(self, inputs):
        p0, p1 = self.pad
        x = ops.pad(inputs, ((0, 0), (p0, p1), (p0, p1), (0, 0)))
        kernel = ops.cast(self._kernel, x.dtype)
        return ops.depthwise_conv(x, kernel, strides=1, padding="valid")

    def compute_output_shape(self, input_shape):
        k = len(self.blur)
        grow = sum(self.pad) - k + 1
        spatial = [None if s is None else s + grow for s in input_shape[1:3]]
        return (input_shape[0], *spatial, input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update({"pad": self.pad, "blur": self.blur})
        return config


@keras.saving.register_keras_serializable(package="vitgan_tf")
class EqualizedConv2D(keras.layers.Layer):
    """StyleGAN2's `ConvLayer`: optional blur and stride-2 downsample, equalized conv,
    then bias and leaky ReLU with gain sqrt(2).

    The kernel `[k, k, C_in, filters]` is drawn N(0, 1) and scaled at run time
    by `1 / sqrt(C_in * k * k)` (equalized learning rate). Without
    downsampling the convolution is stride 1 with `k // 2` zeros of padding
    ("same" for odd k). With `downsample=True`, as `upfirdn2d` then a stride-2
    valid convolution: `Blur(pad=((p + 1) // 2, p // 2))` with
    `p = len(blur) - 2 + k - 1`, which halves an even size. `activate=True`
    adds a bias (zeros) and applies `scaled_leaky_relu`; `activate=False` is
    linear with no bias (StyleGAN2's skip convolutions).

    Args:
        filters: int. Output channels.
        kernel_size: int. k.
        downsample: bool, default False.
        activate: bool, default True.
        blur: 1-D taps, default (1, 3, 3, 1) (used only with `downsample`).

    Reference:
        Karras et al., "Analyzing and Improving the Image Quality of
        StyleGAN", arXiv 1912.04958 (StyleGAN2), appendix B.
    """

    def __init__(self, filters, kernel_size, downsample=False, activate=True,
                 blur=DEFAULT_BLUR, **kwargs):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.downsample = bool(downsample)
        self.activate = bool(activate)
        self.blur = _check_taps(blur)
        self.blur_layer = None
        if self.downsample:
            p = len(self.blur) - 2 + self.kernel_size - 1
            self.blur_layer = Blur(((p + 1) // 2, p // 2), self.blur, name="blur")

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"EqualizedConv2D expects [batch, H, W, C] inputs. "
                             f"Received shape: {tuple(input_shape)}")
        channels = input_shape[-1]
        k = self.kernel_size
        self.kernel = self.add_weight(
            shape=(k, k, channels, self.filters), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = None
        if self.activate:
            self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
        self._scale = 1.0 / math.sqrt(channels * k * k)
        if self.blur_layer is not None:
            self.blur_layer.build(input_shape)
        self.built = True

    def call(self, inputs):
        x = inputs
        kernel = self.kernel * self._scale
        if self.downsample:
            x = self.blur_layer(x)
            x = ops.conv(x, kernel, strides=2, padding="valid")
        else:
            p = self.kernel_size // 2
            if p:
                x = ops.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
            x = ops.conv(x, kernel, strides=1, padding="valid")
        if self.activate:
            x = scaled_leaky_relu(x + self.bias)
        return x

    def compute_output_shape(self, input_shape):
        k = self.kernel_size

        def size(s):
            if s is None:
                return None
            if self.downsample:
                p = len(self.blur) - 2 + k - 1
                return (s + p - len(self.blur) + 1 - k) // 2 + 1
            return s + 2 * (k // 2) - k + 1

        return (input_shape[0], size(input_shape[1]), size(input_shape[2]), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "kernel_size": self.kernel_size,
                       "downsample": self.downsample, "activate": self.activate,
                       "blur": self.blur})
        return config


@keras.saving.register_keras_serializable(package="vitgan_tf")
class StyleGAN2ResidualBlock(keras.layers.Layer):
    """`(conv3x3(C_in) -> conv3x3(filters, down) + skip1x1(filters, down, linear)) / sqrt(2)`.

    Halves the resolution. Both 3x3 convolutions have bias and leaky ReLU; the
    skip is a blur, a stride-2 1x1 convolution, no bias, no activation.

    Args:
        filters: int. Output channels.
        blur: 1-D taps, default (1, 3, 3, 1).
    """

    def __init__(self, filters, blur=DEFAULT_BLUR, **kwargs):
        super().__init__(**kwargs)
        self.filters = check_positive_int("filters", filters)
        self.blur = _check_taps(blur)
        self.conv1 = None
        self.conv2 = EqualizedConv2D(self.filters, 3, downsample=True, blur=self.blur, name="conv2")
        self.skip = EqualizedConv2D(self.filters, 1, downsample=True, activate=False,
                                    blur=self.blur, name="skip")

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[1] is None or input_shape[1] % 2:
            raise ValueError(f"StyleGAN2ResidualBlock expects [batch, H, W, C] with an even H. "
                             f"Received shape: {tuple(input_shape)}")
        self.conv1 = EqualizedConv2D(input_shape[-1], 3, name="conv1")
        self.conv1.build(input_shape)
        self.conv2.build(self.conv1.compute_output_shape(input_shape))
        self.skip.build(input_shape)
        self.built = True

    def call(self, inputs):
        out = self.conv2(self.conv1(inputs))
        return (out + self.skip(inputs)) * (1.0 / LRELU_GAIN)

    def compute_output_shape(self, input_shape):
        return self.skip.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "blur": self.blur})
        return config


@keras.saving.register_keras_serializable(package="vitgan_tf")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the minibatch standard deviation as `num_features` channels.

    The batch `B` is split into `G = min(group_size, B)` groups the StyleGAN2
    way: sample `b` is member `b // (B / G)` of group `b % (B / G)`. For each
    group and each of `num_features` channel slices, the standard deviation
    over the group's members (biased variance + 1e-8, square root) is averaged
    over height, width and the slice's channels, and broadcast to a channel
    of every member. `B` must be a multiple of `G`. The output depends on the
    other images of the batch: in `ViTGAN`'s one D call on `[A(x), A(G(z)),
    ...]` every group holds as many real images as fake ones, as in the
    authors' code, which also runs D on reals and fakes concatenated.

    Args:
        group_size: int, default 4.
        num_features: int, default 1. Must divide the channels.

    Call arguments:
        inputs: `[B, H, W, C]`.

    Returns:
        `[B, H, W, C + num_features]`.
    """

    def __init__(self, group_size=4, num_features=1, **kwargs):
        super().__init__(**kwargs)
        self.group_size = check_positive_int("group_size", group_size)
        self.num_features = check_positive_int("num_features", num_features)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] % self.num_features:
            raise ValueError(
                f"MinibatchStdDev expects [batch, H, W, C] with C divisible by "
                f"num_features={self.num_features}. Received shape: {tuple(input_shape)}")
        self.built = True

    def call(self, inputs):
        group, compute = minibatch_group(inputs, self.group_size, "MinibatchStdDev")
        _, height, width, channels = inputs.shape
        f = self.num_features
        x = ops.cast(inputs, compute)
        y = ops.reshape(x, (group, -1, height, width, f, channels // f))
        y = y - ops.mean(y, axis=0, keepdims=True)
        y = ops.sqrt(ops.mean(ops.square(y), axis=0) + 1e-8)  # [M, H, W, F, C / F]
        y = ops.mean(y, axis=(1, 2, 4))  # [M, F]
        y = ops.tile(ops.reshape(y, (-1, 1, 1, f)), (group, height, width, 1))
        return ops.concatenate([inputs, ops.cast(y, inputs.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], input_shape[3] + self.num_features)

    def get_config(self):
        config = super().get_config()
        config.update({"group_size": self.group_size, "num_features": self.num_features})
        return config
