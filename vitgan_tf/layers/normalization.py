"""LayerNorm whose second derivatives are exact on every backend (R1 through D)."""

import keras
from keras import ops


def standardize(x, axis, epsilon):
    """`(x - mean) / sqrt(var + epsilon)` over `axis`, `var = mean((x - mean)^2)`.

    Every derivative order is exact: no gradient is stopped through the mean
    (unlike TensorFlow's `tf.nn.moments`), and the derivative is written out,
    `dx = r * (g - mean(g) - y * mean(g * y))` with `y` the output and
    `r = 1 / sqrt(var + epsilon)`, from differentiable ops on `x`, so a
    gradient penalty differentiates it again. Only `x` is kept for the
    backward pass (autodiff of the forward graph kept four tensors of its
    size).
    """

    def moments(x):
        mean = ops.mean(x, axis=axis, keepdims=True)
        centred = x - mean
        inv_std = ops.rsqrt(ops.mean(ops.square(centred), axis=axis, keepdims=True) + epsilon)
        return centred * inv_std, inv_std

    @ops.custom_gradient
    def forward(x):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            y, inv_std = moments(x)
            mean_g = ops.mean(upstream, axis=axis, keepdims=True)
            mean_gy = ops.mean(upstream * y, axis=axis, keepdims=True)
            return inv_std * (upstream - mean_g - y * mean_gy)

        return moments(x)[0], grad

    return forward(x)


@keras.saving.register_keras_serializable(package="vitgan_tf")
class ExactLayerNormalization(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` with exact higher-order gradients.

    `y = (x - mean) / sqrt(var + epsilon) * gamma + beta` over `axis`, with
    `var = mean((x - mean)^2)`, in float32 (float64 for float64 inputs), cast
    to the compute dtype. Same weights, config and outputs as Keras' layer,
    which takes the backend's
    `moments`: on TensorFlow, `tf.nn.moments` computes the variance around
    `stop_gradient(mean)`. That is exact for first derivatives (the
    deviations sum to zero) but not for second ones, which a gradient penalty
    needs: R1's gradient w.r.t. D's weights came out about 3% off. D uses
    this layer; `rms_scaling` is not supported.

    Example:

    >>> norm = ExactLayerNormalization(epsilon=1e-6)
    >>> y = norm(np.ones((2, 5, 8), "float32"))
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.rms_scaling:
            raise ValueError("ExactLayerNormalization does not support rms_scaling=True")

    def call(self, inputs):
        dtype = keras.backend.result_type(inputs.dtype, "float32")  # float32, or float64
        x = ops.cast(inputs, dtype)
        axes = tuple(self.axis)
        outputs = standardize(x, axes, self.epsilon)
        shape = [1] * len(x.shape)
        for axis in axes:
            shape[axis] = x.shape[axis]
        if self.gamma is not None:
            outputs = outputs * ops.reshape(ops.cast(self.gamma, dtype), shape)
        if self.beta is not None:
            outputs = outputs + ops.reshape(ops.cast(self.beta, dtype), shape)
        return ops.cast(outputs, self.compute_dtype)
