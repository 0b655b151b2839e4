"""Exact GELU whose backward pass keeps one tensor instead of the erf graph's."""

import math

import keras
from keras import ops

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@keras.saving.register_keras_serializable(package="vitgan_tf")
def gelu(x):
    """Exact GELU, `x * Phi(x)`, with its derivative written out.

    Same values as `keras.activations.gelu(x, approximate=False)`. The
    gradient is `Phi(x) + x * phi(x)`, computed in the backward pass from `x`
    alone: autodiff of the erf expression keeps several activation-sized
    intermediates for the backward pass (0.43 GB of the peak RSS of the
    cifar10 preset's `full` training step at batch 32; docs/performance.md).
    The derivative is built from differentiable ops, so second derivatives
    (R1 through D) are exact too.

    Args:
        x: tensor.

    Returns:
        Tensor of `x`'s shape and dtype.

    Example:

    >>> keras.layers.Dense(8, activation=gelu)

    Reference:
        Hendrycks & Gimpel, "Gaussian Error Linear Units (GELUs)", arXiv 1606.08415.
    """
    return _gelu(x)  # a plain function, so Keras serializes it by its registered name


@ops.custom_gradient
def _gelu(x):
    outputs = keras.activations.gelu(x, approximate=False)

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        cdf = 0.5 * (1.0 + ops.erf(x * _SQRT_HALF))
        pdf = ops.exp(-0.5 * ops.square(x)) * _INV_SQRT_2PI
        return upstream * (cdf + x * pdf)

    return outputs, grad
