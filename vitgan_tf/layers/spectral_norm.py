"""Improved spectral normalization (ISN), ViTGAN section 4.1, and the helpers that apply it."""

import math

import keras
from keras import ops

from vitgan_tf.layers.utils import check_choice


@keras.saving.register_keras_serializable(package="vitgan_tf")
class ImprovedSpectralNormalization(keras.layers.Wrapper):
    """Rescales a wrapped layer's kernel to a fixed spectral norm.

    The wrapped layer runs with the effective kernel

        W_ISN = sigma(W_init) * W / sigma(W)

    where `sigma(W)` is the largest singular value of the kernel (reshaped to
    a matrix `[prod(shape[:-1]), shape[-1]]`), estimated by power iteration
    with a persistent non-trainable vector `u`, and `sigma(W_init)` is the
    exact top singular value of the kernel at build time, stored as a
    non-trainable weight so it survives saving. With `use_init_scale=False`
    the target norm is 1 (plain spectral normalization, Miyato et al.).

    Equalized learning rate (`equalized_lr=True`, Karras et al.): the raw
    kernel is drawn N(0, 1) at build time and stands for the kernel
    `gain / sqrt(fan_in) * W` (fan_in = prod(kernel.shape[:-1])). The
    run-time constant cancels in `W / sigma(W)`, so it shows in two places
    only: `sigma(W_init)` is that of the scaled kernel (about 1 + sqrt(fan_out
    / fan_in) for `gain=1`, i.e. about 2 for a square layer, whatever the
    layer's own initializer), and Adam, whose steps are about `lr` per entry,
    turns a unit-scale kernel by about `lr` per step instead of
    `lr / std(W_init)` (several percent per step for a small glorot kernel).

    The effective kernel is computed in the forward pass (gradients flow to
    the raw kernel); the raw kernel is never overwritten. `u` is updated only
    when `training=True`.

    Args:
        layer: a `keras.layers.Layer` with a `kernel` attribute (`Dense`,
            `Conv2D`, `EinsumDense`, ...).
        power_iterations: int, default 1. Power-iteration steps per training
            call.
        use_init_scale: bool, default True. Scale to `sigma(W_init)` (ISN);
            False scales to 1 (plain spectral normalization).
        epsilon: float, default 1e-12. Guards the vector normalisations.
        equalized_lr: bool, default False. Re-draw the kernel N(0, 1) at
            build and measure `sigma(W_init)` on `gain / sqrt(fan_in) * W`.
        gain: float, default 1.0. The equalized kernel's gain (ignored
            unless `equalized_lr`).

    Example:

    >>> dense = ImprovedSpectralNormalization(keras.layers.Dense(8))
    >>> y = dense(np.ones((2, 4), "float32"), training=True)

    Reference:
        Lee et al., "ViTGAN: Training GANs with Vision Transformers",
        arXiv 2107.04589, eq. (6).
    """

    def __init__(
        self,
        layer,
        power_iterations=1,
        use_init_scale=True,
        epsilon=1e-12,
        equalized_lr=False,
        gain=1.0,
        **kwargs,
    ):
        super().__init__(layer, **kwargs)
        if not gain > 0:
            raise ValueError(f"Expected `gain` > 0. Received: gain={gain}")
        if int(power_iterations) != power_iterations or power_iterations <= 0:
            raise ValueError(
                "Expected `power_iterations` to be a positive integer. "
                f"Received: power_iterations={power_iterations}"
            )
        self.power_iterations = int(power_iterations)
        self.use_init_scale = bool(use_init_scale)
        self.epsilon = epsilon
        self.equalized_lr = bool(equalized_lr)
        self.gain = float(gain)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        if not hasattr(self.layer, "kernel"):
            raise ValueError(
                "`ImprovedSpectralNormalization` needs a layer with a `kernel` "
                f"attribute. Received: layer={self.layer} "
                f"(type {type(self.layer).__name__})"
            )
        self.kernel = self.layer.kernel
        kernel_shape = tuple(self.kernel.shape)
        self._matrix_shape = (-1, kernel_shape[-1])
        self.vector_u = self.add_weight(
            shape=(1, kernel_shape[-1]),
            initializer="zeros",
            trainable=False,
            name="vector_u",
            dtype=self.variable_dtype,
            aggregation="mean",
        )
        self.sigma_init = self.add_weight(
            shape=(),
            initializer="ones",
            trainable=False,
            name="sigma_init",
            dtype=self.variable_dtype,
            aggregation="mean",
        )
        runtime_scale = 1.0
        if self.equalized_lr:
            fan_in = math.prod(kernel_shape[:-1])
            runtime_scale = self.gain / math.sqrt(fan_in)
            self.kernel.assign(keras.initializers.RandomNormal(0.0, 1.0)(
                kernel_shape, dtype=self.kernel.dtype))
        # Exact top singular pair at initialisation: the power iteration then
        # starts converged, and sigma(W_init) is exact.
        matrix = ops.reshape(ops.cast(self.kernel, "float32"), self._matrix_shape)
        _, singular_values, v_t = ops.svd(matrix, full_matrices=False)
        self.vector_u.assign(ops.cast(v_t[:1], self.variable_dtype))
        if self.use_init_scale:
            self.sigma_init.assign(
                ops.cast(runtime_scale * singular_values[0], self.variable_dtype))
        self.built = True

    def _sigma_and_u(self, training):
        """Power iteration on the raw kernel; returns (sigma, new_u)."""
        matrix = ops.reshape(self.kernel, self._matrix_shape)  # [n_in, n_out]
        u = ops.stop_gradient(ops.cast(self.vector_u, matrix.dtype))  # [1, n_out]
        iterations = self.power_iterations if training else 1
        for _ in range(iterations):
            v = _l2_normalize(ops.matmul(u, ops.transpose(matrix)), self.epsilon)
            u = _l2_normalize(ops.matmul(v, matrix), self.epsilon)
        u = ops.stop_gradient(u)
        v = ops.stop_gradient(v)
        sigma = ops.sum(ops.matmul(v, matrix) * u)
        return sigma, u

    def normalized_kernel(self, training=False):
        """The effective kernel `sigma(W_init) * W / sigma(W)` (no state change)."""
        sigma, _ = self._sigma_and_u(training)
        return self._scale(sigma)

    def _scale(self, sigma):
        scale = ops.cast(self.sigma_init, self.kernel.dtype) / sigma
        return self.kernel * scale

    def call(self, inputs, training=False):
        sigma, u = self._sigma_and_u(training)
        if training:
            self.vector_u.assign(ops.cast(u, self.vector_u.dtype))
        kernel = self._scale(sigma)
        # The wrapped layer runs with the effective kernel in a StatelessScope. A
        # StatelessScope does not inherit the enclosing one's mapping, so the layer's
        # other variables (its bias) are mapped to their current values: inside an
        # enclosing `stateless_call` (the JAX train step) those are the call's values.
        mapping = [(v, v.value) for v in self.layer.variables if v is not self.kernel]
        with keras.StatelessScope(state_mapping=mapping + [(self.kernel, kernel)]):
            return self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "power_iterations": self.power_iterations,
                "use_init_scale": self.use_init_scale,
                "epsilon": self.epsilon,
                "equalized_lr": self.equalized_lr,
                "gain": self.gain,
            }
        )
        return config


def _l2_normalize(x, epsilon):
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x)), epsilon))


SPECTRAL_NORM_CHOICES = (None, "isn", "sn")


def check_spectral_norm(spectral_norm):
    """Returns `spectral_norm` if it is one of `SPECTRAL_NORM_CHOICES`, else raises."""
    return check_choice("spectral_norm", spectral_norm, SPECTRAL_NORM_CHOICES)


def check_equalized_lr(equalized_lr, spectral_norm):
    """Returns `bool(equalized_lr)`; raises `ValueError` if it is set without a spectral norm
    (the equalized learning rate is implemented by the spectral-norm wrapper)."""
    if equalized_lr and spectral_norm is None:
        raise ValueError("`equalized_lr=True` is implemented by the spectral-norm wrapper; it "
                         "needs spectral_norm='isn' or 'sn'. Received: spectral_norm=None")
    return bool(equalized_lr)


def maybe_spectral_norm(layer, spectral_norm, equalized_lr=False, gain=1.0):
    """Wraps `layer` in ISN (`"isn"`), plain SN (`"sn"`) or nothing (`None`).

    `equalized_lr` and `gain` go to `ImprovedSpectralNormalization`; they
    need a spectral norm (`ValueError` with `None`).
    """
    check_equalized_lr(equalized_lr, check_spectral_norm(spectral_norm))
    if spectral_norm is None:
        return layer
    return ImprovedSpectralNormalization(
        layer,
        use_init_scale=spectral_norm == "isn",
        equalized_lr=equalized_lr,
        gain=gain,
        name=f"{spectral_norm}_{layer.name}",
    )
