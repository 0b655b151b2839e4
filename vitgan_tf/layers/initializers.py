"""Initializers of the layers: `WindowGlorotUniform` for patch embeddings."""

import keras


@keras.saving.register_keras_serializable(package="vitgan_tf")
class WindowGlorotUniform(keras.initializers.Initializer):
    """Glorot uniform for a kernel that linearly projects flattened windows.

    `keras.initializers.GlorotUniform` counts a convolution's window area in
    both fans (fan_out = kh * kw * filters). A patch embedding is a linear
    map of the flattened window (fan_in = kh * kw * channels) to the token
    (fan_out = filters), so its Glorot limit is `sqrt(6 / (fan_in +
    fan_out))`, as for a `Dense` layer on the flattened window.

    Args:
        seed: int or None, default None.
    """

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype=None):
        fan_in = 1
        for size in shape[:-1]:
            fan_in *= int(size)
        limit = (6.0 / (fan_in + int(shape[-1]))) ** 0.5
        return keras.initializers.RandomUniform(-limit, limit, seed=self.seed)(shape, dtype=dtype)

    def get_config(self):
        return {"seed": self.seed}
